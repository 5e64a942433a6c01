-- The identity map: one row per non-deleted source record (lead, contact, HubSpot contact)
-- with the person it belongs to. A person is a connected component of records linked by a
-- shared normalized email, a lead's conversion into a contact, or a HubSpot contact's
-- salesforceleadid / salesforcecontactid. `person_id` is md5 of the component's canonical key:
-- its smallest normalized email, else its smallest '<record_type>:<record_id>'. Each row also
-- carries its record's normalized email and creation instant, so the models that need them per
-- person (int_identity__person_emails, int_funnel__person_crm_dates) do not join the records again.

with

records as (
    select * from {{ ref('int_identity__records') }}
),

node_components as (
    select * from {{ ref('int_identity__node_components') }}
),

records_in_components as (
    select
        records.record_type,
        records.record_id,
        records.record_key,
        records.email_normalized,
        records.created_at,
        node_components.component_id
    from records
    inner join node_components
        on records.node_id = node_components.node_id
),

canonical_keys as (
    select
        component_id,
        coalesce(min(email_normalized), min(record_key)) as canonical_key
    from records_in_components
    group by component_id
),

final as (
    select
        records_in_components.record_type,
        records_in_components.record_id,
        {{ dbt.hash('canonical_keys.canonical_key') }} as person_id,
        records_in_components.email_normalized,
        records_in_components.created_at
    from records_in_components
    inner join canonical_keys
        on records_in_components.component_id = canonical_keys.component_id
)

select * from final
