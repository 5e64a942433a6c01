-- One row per non-deleted source record that can be a person: Salesforce leads and contacts,
-- HubSpot contacts. Each record starts in the identity graph at its node: its normalized
-- email when it has one (so records sharing an email share a node), else the record itself.

with

leads as (
    select * from {{ ref('stg_salesforce__leads') }}
),

contacts as (
    select * from {{ ref('stg_salesforce__contacts') }}
),

hubspot_contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
),

lead_records as (
    select
        'lead' as record_type,
        lead_id as record_id,
        email,
        created_date as created_at
    from leads
    where not is_deleted
),

contact_records as (
    select
        'contact' as record_type,
        contact_id as record_id,
        email,
        created_date as created_at
    from contacts
    where not is_deleted
),

hubspot_records as (
    select
        'hubspot_contact' as record_type,
        hubspot_contact_id as record_id,
        email,
        -- the createdate property, else the record's createdAt (the same instant in CRM v3)
        coalesce(createdate, created_at) as created_at
    from hubspot_contacts
    where not is_archived
),

unioned as (
    select * from lead_records
    union all
    select * from contact_records
    union all
    select * from hubspot_records
),

normalized as (
    select
        record_type,
        record_id,
        record_type || ':' || record_id as record_key,
        {{ normalize_email('email') }} as email_normalized,
        created_at
    from unioned
    where record_id is not null
),

final as (
    select
        record_type,
        record_id,
        record_key,
        email_normalized,
        -- `||` (not concat) so that a null email gives a null node and the record key wins
        coalesce('email:' || email_normalized, record_key) as node_id,
        created_at
    from normalized
)

select * from final
