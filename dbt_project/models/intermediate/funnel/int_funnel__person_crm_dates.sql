-- Per person, the CRM dates the funnel stages start from: the earliest CreatedDate /
-- createdate of the person's non-deleted records (leads, contacts, HubSpot contacts), and the
-- earliest ConvertedDate of a lead converted without a (non-deleted) opportunity.

with

person_keys as (
    select * from {{ ref('int_person_keys') }}
),

leads as (
    select * from {{ ref('stg_salesforce__leads') }}
),

opportunities as (
    select * from {{ ref('int_opportunities') }}
),

record_dates as (
    -- int_person_keys carries each record's creation instant
    select
        person_id,
        min(created_at) as first_record_created_at
    from person_keys
    group by person_id
),

converted_without_opportunity as (
    select
        person_keys.person_id,
        min(leads.converted_date) as converted_date
    from person_keys
    inner join leads
        on person_keys.record_type = 'lead'
        and person_keys.record_id = leads.lead_id
    left join opportunities
        on leads.converted_opportunity_id = opportunities.opportunity_id
    -- a ConvertedDate marks a converted lead even where the export lacks IsConverted
    where coalesce(leads.is_converted, true)
      and leads.converted_date is not null
      and opportunities.opportunity_id is null
    group by person_keys.person_id
),

persons as (
    select distinct person_id from person_keys
),

final as (
    select
        persons.person_id,
        record_dates.first_record_created_at,
        converted_without_opportunity.converted_date as converted_without_opportunity_date
    from persons
    left join record_dates
        on persons.person_id = record_dates.person_id
    left join converted_without_opportunity
        on persons.person_id = converted_without_opportunity.person_id
)

select * from final
