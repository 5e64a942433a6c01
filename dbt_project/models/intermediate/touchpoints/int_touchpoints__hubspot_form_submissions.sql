-- HubSpot form submissions that are touches: one row per distinct
-- 'hs_form:<formGuid>:<submittedAt epoch ms>:<person_id>'. The person is the one whose
-- normalized email equals the submission's (normalized) `email` value; submissions without one
-- are counted in int_touchpoints__unmatched_form_submissions instead.
-- Type: `demo_request` when the form's name contains one of mql.demo_request_forms (any
-- case), else `form_submission`. Channel: the pageUrl's utm_medium through seed
-- utm_medium_channels, else the person's first-visit channel (the channel of the person's
-- earliest hs_visit touch), else `other`.
-- A view over the shared macro (macros/incremental/touchpoint_kinds.sql): int_touchpoints runs the
-- same SQL, on the affected people only when it builds incrementally.

{{ config(materialized='view') }}

{{ hubspot_form_touches(ref('stg_hubspot__form_submissions'), ref('stg_hubspot__forms'), ref('int_identity__person_emails'),
                         ref('int_touchpoints__hubspot_visits'), ref('utm_medium_channels')) }}
