{#- Connected components of an identity graph, as CTEs for a `with recursive` query: `nodes`
    names a relation or CTE of distinct node_id, `links` one of from_node_id / to_node_id edges.
    Defines `node_components` (node_id, component_id): every node gets the smallest node id of its
    component, by min-label propagation run to a fixed point (a recursive CTE keyed on the node:
    each pass only pushes labels that got smaller, so it ends after as many passes as the longest
    chain needs, whatever the chain length). int_identity__node_components runs it over the whole
    graph, int_person_keys' nightly build over the part of the graph a night touched. -#}
{% macro identity_component_ctes(nodes, links) -%}
component_edges as (
    select from_node_id as node_id, to_node_id as neighbour_id from {{ links }}
    union
    select to_node_id as node_id, from_node_id as neighbour_id from {{ links }}
),

component_linked_nodes as (
    select distinct node_id from component_edges
),

propagated (node_id, component_id) using key (node_id) as (
    select node_id, node_id as component_id
    from component_linked_nodes

    union

    select
        component_edges.neighbour_id as node_id,
        min(propagated.component_id) as component_id
    from propagated
    inner join component_edges
        on propagated.node_id = component_edges.node_id
    inner join recurring.propagated as current_label
        on component_edges.neighbour_id = current_label.node_id
    where propagated.component_id < current_label.component_id
    group by component_edges.neighbour_id
),

node_components as (
    select
        component_nodes.node_id,
        coalesce(propagated.component_id, component_nodes.node_id) as component_id
    from {{ nodes }} as component_nodes
    left join propagated
        on component_nodes.node_id = propagated.node_id
)
{%- endmacro %}
