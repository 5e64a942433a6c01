-- HubSpot marketing-email events that are touches: CLICK -> `email_click`, OPEN ->
-- `email_open`, channel `email`; other event types are not touches. The person is the one whose
-- normalized email equals the normalized recipient (no such person: not a touch).
-- A view over the shared macro (macros/incremental/touchpoint_kinds.sql): int_touchpoints runs the
-- same SQL, on the affected people only when it builds incrementally.

{{ config(materialized='view') }}

{{ hubspot_email_touches(ref('stg_hubspot__email_events'), ref('int_identity__person_emails')) }}
