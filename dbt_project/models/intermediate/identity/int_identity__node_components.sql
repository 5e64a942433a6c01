-- Connected components of the identity graph. Nodes are normalized emails and email-less
-- records; edges are the record links. Every node gets the smallest node id of its
-- component as `component_id`, by min-label propagation run to a fixed point (a recursive CTE
-- keyed on the node: each pass only pushes labels that got smaller, so it ends after as many
-- passes as the longest chain needs, whatever the chain length).

with recursive

records as (
    select * from {{ ref('int_identity__records') }}
),

links as (
    select * from {{ ref('int_identity__record_links') }}
),

nodes as (
    select distinct node_id from records
),

edges as (
    select from_node_id as node_id, to_node_id as neighbour_id from links
    union
    select to_node_id as node_id, from_node_id as neighbour_id from links
),

linked_nodes as (
    select distinct node_id from edges
),

propagated (node_id, component_id) using key (node_id) as (
    select node_id, node_id as component_id
    from linked_nodes

    union

    select
        edges.neighbour_id as node_id,
        min(propagated.component_id) as component_id
    from propagated
    inner join edges
        on propagated.node_id = edges.node_id
    inner join recurring.propagated as current_label
        on edges.neighbour_id = current_label.node_id
    where propagated.component_id < current_label.component_id
    group by edges.neighbour_id
),

final as (
    select
        nodes.node_id,
        coalesce(propagated.component_id, nodes.node_id) as component_id
    from nodes
    left join propagated
        on nodes.node_id = propagated.node_id
)

select * from final
