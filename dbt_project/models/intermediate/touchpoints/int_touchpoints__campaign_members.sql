-- Salesforce campaign responses that are touches: non-deleted CampaignMembers with
-- HasResponded, except those of a deleted campaign (a campaign missing from the extract has no
-- type: `form_submission` / `other`). Touched at FirstRespondedDate (a date: start of that
-- day UTC), else the member's CreatedDate. Person through LeadId, else ContactId. Type and
-- channel by Campaign.Type through seed campaign_type_touches (unmapped:
-- `form_submission` / `other`).

with

campaign_members as (
    select * from {{ ref('stg_salesforce__campaign_members') }}
),

campaigns as (
    select * from {{ ref('stg_salesforce__campaigns') }}
),

person_keys as (
    select * from {{ ref('int_person_keys') }}
),

campaign_type_touches as (
    select * from {{ ref('campaign_type_touches') }}
),

responses as (
    select
        campaign_members.campaign_member_id,
        campaign_members.campaign_id,
        campaign_members.lead_id,
        campaign_members.contact_id,
        coalesce(
            cast(campaign_members.first_responded_date as timestamp),
            campaign_members.created_date
        ) as touched_at,
        campaigns.type as campaign_type
    from campaign_members
    left join campaigns
        on campaign_members.campaign_id = campaigns.campaign_id
    where campaign_members.has_responded
      and not campaign_members.is_deleted
      -- a deleted campaign takes its responses out; one missing from the extract has no type
      and not coalesce(campaigns.is_deleted, false)
),

with_person as (
    select
        responses.*,
        coalesce(lead_keys.person_id, contact_keys.person_id) as person_id
    from responses
    left join person_keys as lead_keys
        on lead_keys.record_type = 'lead'
        and responses.lead_id = lead_keys.record_id
    left join person_keys as contact_keys
        on contact_keys.record_type = 'contact'
        and responses.contact_id = contact_keys.record_id
),

final as (
    select
        'sf_cm:' || with_person.campaign_member_id as touchpoint_id,
        with_person.person_id,
        with_person.touched_at,
        coalesce(campaign_type_touches.touch_type, 'form_submission') as touch_type,
        coalesce(campaign_type_touches.channel, 'other') as channel,
        with_person.campaign_id
    from with_person
    left join campaign_type_touches
        on lower(trim(with_person.campaign_type)) = lower(trim(campaign_type_touches.campaign_type))
    where with_person.person_id is not null
      and with_person.touched_at is not null
)

select * from final
