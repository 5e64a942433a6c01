-- One row per non-deleted source record that can be a person: Salesforce leads and contacts,
-- HubSpot contacts. Each record starts in the identity graph at its node: its normalized
-- email when it has one (so records sharing an email share a node), else the record itself.
--
-- Incremental by record: a record's row follows from its own staging row alone, so a nightly
-- build re-derives only the records whose staging rows changed since its last build (their
-- _batch_id after the marks in int_identity__records__state_marks) and replaces exactly those
-- (strategy replace_partitions; a record deleted or archived since is emptied). A missing state
-- rebuilds every record; --full-refresh rebuilds from scratch.

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='record_key',
    tombstone_column='node_id',
    replaced_log=true,
    on_schema_change='fail',
    post_hook=[
        "{{ replace_state_table_sql(incremental_state_relation(this.schema, 'marks'),
                                    identity_marks_sql()) }}",
        "{{ log_full_build_sql() }}",
    ],
) }}

{%- set marks = read_incremental_marks(this.schema, []) %}
{#- nightly: only the staging rows changed since the marks -#}
{%- set changed = {} %}
{%- for source in identity_record_sources() %}
    {%- do changed.update({source.model: 'true' if marks is none else changed_since(marks, source.model)}) %}
{%- endfor %}

with

leads as (
    select * from {{ ref('stg_salesforce__leads') }}
    where {{ changed['stg_salesforce__leads'] }}
),

contacts as (
    select * from {{ ref('stg_salesforce__contacts') }}
    where {{ changed['stg_salesforce__contacts'] }}
),

hubspot_contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
    where {{ changed['stg_hubspot__contacts'] }}
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

derived as (
    select
        record_type,
        record_id,
        record_key,
        email_normalized,
        -- `||` (not concat) so that a null email gives a null node and the record key wins
        coalesce('email:' || email_normalized, record_key) as node_id,
        created_at
    from normalized
),

final as (
    select * from derived
    {%- if is_incremental() %}

    union all

    -- one tombstone per re-derived record (deleted and archived ones too): replace_partitions
    -- empties the record first
    select
        cast(null as {{ dbt.type_string() }}) as record_type,
        cast(null as {{ dbt.type_string() }}) as record_id,
        record_key,
        cast(null as {{ dbt.type_string() }}) as email_normalized,
        cast(null as {{ dbt.type_string() }}) as node_id,
        cast(null as timestamp) as created_at
    from (
        {{ changed_identity_record_keys_sql(marks) }}
        {%- if marks is none %}
        union all
        select record_key from {{ this }}
        {%- endif %}
    ) as rederived
    {%- endif %}
)

select * from final
