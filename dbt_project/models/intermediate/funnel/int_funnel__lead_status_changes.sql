-- Every Lead Status change of every person: LeadHistory rows with Field = 'Status' of the
-- person's non-deleted leads (NewValue at CreatedDate). A lead with no LeadHistory Status row
-- (an org that does not track Status history) counts its current Status as one change at its
-- SystemModstamp (CreatedDate when the export has no SystemModstamp).

with

leads as (
    select * from {{ ref('stg_salesforce__leads') }}
),

lead_history as (
    select * from {{ ref('stg_salesforce__lead_history') }}
),

person_keys as (
    select * from {{ ref('int_person_keys') }}
),

person_leads as (
    select
        person_keys.person_id,
        leads.lead_id,
        leads.status,
        leads.disqualification_reason,
        coalesce(leads.system_modstamp, leads.created_date) as status_observed_at
    from person_keys
    inner join leads
        on person_keys.record_type = 'lead'
        and person_keys.record_id = leads.lead_id
),

status_history as (
    select
        lead_history_id,
        lead_id,
        new_value as status,
        created_date as changed_at
    from lead_history
    where lower(trim(field)) = 'status'
),

history_changes as (
    select
        person_leads.person_id,
        person_leads.lead_id,
        status_history.status,
        status_history.changed_at,
        'lead_history' as change_source,
        person_leads.disqualification_reason
    from person_leads
    inner join status_history
        on person_leads.lead_id = status_history.lead_id
),

leads_without_history as (
    select person_leads.*
    from person_leads
    left join (select distinct lead_id from status_history) as tracked
        on person_leads.lead_id = tracked.lead_id
    where tracked.lead_id is null
),

current_status_changes as (
    select
        person_id,
        lead_id,
        status,
        status_observed_at as changed_at,
        'current_status' as change_source,
        disqualification_reason
    from leads_without_history
),

unioned as (
    select * from history_changes
    union all
    select * from current_status_changes
),

final as (
    select * from unioned
    where status is not null
)

select * from final
