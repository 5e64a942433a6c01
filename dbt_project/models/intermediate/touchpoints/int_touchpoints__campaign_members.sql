-- Salesforce campaign responses that are touches: non-deleted CampaignMembers with
-- HasResponded, except those of a deleted campaign (a campaign missing from the extract has no
-- type: `form_submission` / `other`). Touched at FirstRespondedDate (a date: start of that
-- day UTC), else the member's CreatedDate. Person through LeadId, else ContactId. Type and
-- channel by Campaign.Type through seed campaign_type_touches (unmapped:
-- `form_submission` / `other`).
-- A view over the shared macro (macros/incremental/touchpoint_kinds.sql): int_touchpoints runs the
-- same SQL, on the affected people only when it builds incrementally.

{{ config(materialized='view') }}

{{ campaign_member_touches(ref('stg_salesforce__campaign_members'), ref('stg_salesforce__campaigns'), ref('int_person_keys'),
                           ref('campaign_type_touches')) }}
