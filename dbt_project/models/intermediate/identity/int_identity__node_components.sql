-- Connected components of the identity graph. Nodes are normalized emails and email-less
-- records; edges are the record links. Every node gets the smallest node id of its
-- component as `component_id` (macros/identity/identity_components.sql: min-label
-- propagation run to a fixed point, whatever the chain length).

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

{{ identity_component_ctes('nodes', 'links') }},

final as (
    select * from node_components
)

select * from final
