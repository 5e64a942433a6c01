-- HubSpot first visits: one `page_visit` touch per non-archived HubSpot contact with an
-- hs_analytics_first_timestamp, in the channel its hs_analytics_source maps to
-- (seed hubspot_source_channels; `other` when unmapped).

with

hubspot_contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
),

person_keys as (
    select * from {{ ref('int_person_keys') }}
),

source_channels as (
    select * from {{ ref('hubspot_source_channels') }}
),

visits as (
    select
        hubspot_contact_id,
        hs_analytics_source,
        hs_analytics_first_timestamp as touched_at
    from hubspot_contacts
    where not is_archived
      and hs_analytics_first_timestamp is not null
),

with_person as (
    select
        visits.*,
        person_keys.person_id
    from visits
    inner join person_keys
        on person_keys.record_type = 'hubspot_contact'
        and visits.hubspot_contact_id = person_keys.record_id
),

final as (
    select
        'hs_visit:' || with_person.hubspot_contact_id as touchpoint_id,
        with_person.person_id,
        with_person.touched_at,
        'page_visit' as touch_type,
        coalesce(source_channels.channel, 'other') as channel,
        cast(null as {{ dbt.type_string() }}) as campaign_id
    from with_person
    left join source_channels
        on upper(trim(with_person.hs_analytics_source)) = upper(trim(source_channels.hs_analytics_source))
)

select * from final
