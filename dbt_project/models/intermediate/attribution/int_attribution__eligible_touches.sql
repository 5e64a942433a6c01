-- The touches that may take credit for each opportunity, in order (SPEC 3 "Attribution"):
-- touches of the opportunity's people with
-- CreatedDate - lookback_days <= touched_at <= CreatedDate (days exact, in seconds), minus the
-- excluded touch types, one row per (opportunity, touch), positioned by (touched_at, touchpoint_id).
-- A view over the shared macro (macros/incremental/eligible_touches.sql), which fct_attribution
-- also runs, on the affected opportunities only when it builds incrementally.

{{ config(materialized='view') }}

{{ eligible_touches(ref('int_opportunities'), ref('int_opportunity_people'), ref('int_touchpoints')) }}
