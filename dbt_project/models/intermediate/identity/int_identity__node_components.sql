-- Connected components of the identity graph. Nodes are normalized emails and email-less
-- records; edges are the record links. Every node gets the smallest node id of its
-- component as `component_id` (macros/identity/identity_components.sql: min-label
-- propagation run to a fixed point, whatever the chain length).
--
-- A view: only int_person_keys' full build reads every component (its nightly build propagates
-- over the part of the graph the night touched), so a table rebuilt every night wrote 1M rows
-- (at 1M people) no nightly build read, on the build's longest chain of dependent nodes.

{{ config(materialized='view') }}

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
