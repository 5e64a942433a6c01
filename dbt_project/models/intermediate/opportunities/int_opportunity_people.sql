-- One row per (opportunity, person): the contacts holding a contact role on the opportunity
-- and the lead that converted into it (SPEC 3 "Attribution": the opportunity's people).

with

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

contact_roles as (

    select * from {{ ref('stg_salesforce__opportunity_contact_roles') }}

),

leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

person_keys as (

    select * from {{ ref('int_person_keys') }}

),

contacts_with_a_role as (

    select
        contact_roles.opportunity_id,
        person_keys.person_id,
        coalesce(contact_roles.is_primary, false) as is_primary_contact,
        false as is_converted_lead,
        contact_roles.created_date as joined_at
    from contact_roles
    inner join person_keys
        on person_keys.record_type = 'contact'
        and person_keys.record_id = contact_roles.contact_id
    where not coalesce(contact_roles.is_deleted, false)

),

converted_leads as (

    -- a date-only ConvertedDate is read as the start of that day in UTC
    select
        leads.converted_opportunity_id as opportunity_id,
        person_keys.person_id,
        false as is_primary_contact,
        true as is_converted_lead,
        cast(leads.converted_date as timestamp) as joined_at
    from leads
    inner join person_keys
        on person_keys.record_type = 'lead'
        and person_keys.record_id = leads.lead_id
    where leads.converted_opportunity_id is not null
        and not coalesce(leads.is_deleted, false)

),

ways_in as (

    select * from contacts_with_a_role
    union all
    select * from converted_leads

),

people_per_opportunity as (

    -- a person reaching the opportunity both ways (role and conversion) is one row
    select
        ways_in.opportunity_id,
        ways_in.person_id,
        {{ dbt.bool_or('ways_in.is_primary_contact') }} as is_primary_contact,
        {{ dbt.bool_or('ways_in.is_converted_lead') }} as is_converted_lead,
        min(ways_in.joined_at) as joined_at
    from ways_in
    inner join opportunities
        on ways_in.opportunity_id = opportunities.opportunity_id
    group by ways_in.opportunity_id, ways_in.person_id

),

final as (

    select
        opportunity_id,
        person_id,
        is_primary_contact,
        is_converted_lead,
        joined_at
    from people_per_opportunity

)

select * from final
