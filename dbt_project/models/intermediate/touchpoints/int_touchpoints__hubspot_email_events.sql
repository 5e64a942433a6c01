-- HubSpot marketing-email events that are touches: CLICK -> `email_click`, OPEN ->
-- `email_open`, channel `email`; other event types are not touches. The person is the one whose
-- normalized email equals the normalized recipient (no such person: not a touch).

with

email_events as (
    select * from {{ ref('stg_hubspot__email_events') }}
),

person_emails as (
    select * from {{ ref('int_identity__person_emails') }}
),

typed as (
    select
        email_event_id,
        created_at as touched_at,
        {{ normalize_email('recipient') }} as recipient_normalized,
        case upper(trim(event_type))
            when 'CLICK' then 'email_click'
            when 'OPEN' then 'email_open'
        end as touch_type
    from email_events
    where email_event_id is not null
      and created_at is not null
),

final as (
    select
        'hs_email:' || typed.email_event_id as touchpoint_id,
        person_emails.person_id,
        typed.touched_at,
        typed.touch_type,
        'email' as channel,
        cast(null as {{ dbt.type_string() }}) as campaign_id
    from typed
    inner join person_emails
        on typed.recipient_normalized = person_emails.email_normalized
    where typed.touch_type is not null
)

select * from final
