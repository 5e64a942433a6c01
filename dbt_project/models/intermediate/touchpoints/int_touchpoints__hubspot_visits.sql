-- HubSpot first visits: one `page_visit` touch per non-archived HubSpot contact with an
-- hs_analytics_first_timestamp, in the channel its hs_analytics_source maps to
-- (seed hubspot_source_channels; `other` when unmapped).
-- A view over the shared macro (macros/incremental/touchpoint_kinds.sql): int_touchpoints runs the
-- same SQL, on the affected people only when it builds incrementally.

{{ config(materialized='view') }}

{{ hubspot_visit_touches(ref('stg_hubspot__contacts'), ref('int_person_keys'), ref('hubspot_source_channels')) }}
