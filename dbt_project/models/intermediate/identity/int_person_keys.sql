-- The identity map: one row per non-deleted source record (lead, contact, HubSpot contact)
-- with the person it belongs to. A person is a connected component of records linked by a
-- shared normalized email, a lead's conversion into a contact, or a HubSpot contact's
-- salesforceleadid / salesforcecontactid. `person_id` is md5 of the component's canonical key:
-- its smallest normalized email, else its smallest '<record_type>:<record_id>'. Each row also
-- carries its record's normalized email and creation instant, so the models that need them per
-- person (int_identity__person_emails, int_funnel__person_crm_dates) do not join the records again.
--
-- Incremental by person: a record's node and links follow from staging rows, so only the
-- components holding a record whose staging row changed since the last build (its _batch_id
-- after the marks in int_person_keys__state_marks) can change. A nightly build takes every
-- person of the last build that holds a changed record, shares a node with one now, or is linked
-- to one now; recomputes the components of all their current records and the changed ones
-- (nothing outside that set shares a node or a link with it: an unchanged record keeps its node
-- and links, so anything joined to the set now was in one of its people before) with the same
-- propagation as a full build (macros/identity/identity_components.sql), and replaces exactly
-- those people (strategy replace_partitions), and logs them, before and now, in
-- int_person_keys__state_replaced for the models that follow people (replaced_since). A missing
-- state recomputes every person.

{#- only while parsing: the incremental branch reads these #}
{%- if not execute %}
-- depends_on: {{ ref('stg_salesforce__leads') }} {{ ref('stg_salesforce__contacts') }} {{ ref('stg_hubspot__contacts') }}
-- depends_on: {{ ref('int_identity__record_links') }}
{%- endif %}

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='person_id',
    tombstone_column='record_id',
    replaced_log=true,
    on_schema_change='fail',
    post_hook=[
        "{{ replace_state_table_sql(incremental_state_relation(this.schema, 'marks'),
                                    identity_marks_sql()) }}",
        "{{ log_full_build_sql() }}",
    ],
) }}

{%- set marks = read_incremental_marks(this.schema, []) %}

with recursive

{% if is_incremental() -%}

changed_record_keys as (
    {{ changed_identity_record_keys_sql(marks) }}
),

previous_keys as (
    select record_type || ':' || record_id as record_key, person_id
    from {{ this }}
),

current_records as (
    select * from {{ ref('int_identity__records') }}
),

current_links as (
    select * from {{ ref('int_identity__record_links') }}
),

changed_records as (
    select * from current_records
    where record_key in (select record_key from changed_record_keys)
),

touched_record_keys as (
    select record_key from changed_record_keys
    union all
    -- records that share a node with a changed record now
    select record_key from current_records
    where node_id in (select node_id from changed_records)
    union all
    -- records linked to a changed record now (links join live records only)
    select to_record_key from current_links
    where from_record_key in (select record_key from changed_records)
    union all
    select from_record_key from current_links
    where to_record_key in (select record_key from changed_records)
),

affected_people as (
    select distinct person_id from previous_keys
    where record_key in (select record_key from touched_record_keys)
),

records as (
    select * from current_records
    where record_key in (select record_key from touched_record_keys)
        or record_key in (
            select record_key from previous_keys
            where person_id in (select person_id from affected_people)
        )
),

links as (
    select * from current_links
    where from_record_key in (select record_key from records)
        and to_record_key in (select record_key from records)
),

nodes as (
    select distinct node_id from records
),

{{ identity_component_ctes('nodes', 'links') }},

{%- else -%}

records as (
    select * from {{ ref('int_identity__records') }}
),

node_components as (
    select * from {{ ref('int_identity__node_components') }}
),

{%- endif %}

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

keyed as (
    select
        records_in_components.record_type,
        records_in_components.record_id,
        {{ dbt.hash('canonical_keys.canonical_key') }} as person_id,
        records_in_components.email_normalized,
        records_in_components.created_at
    from records_in_components
    inner join canonical_keys
        on records_in_components.component_id = canonical_keys.component_id
),

final as (
    select * from keyed
    {%- if is_incremental() %}

    union all

    -- one tombstone per person of the last build whose records are recomputed:
    -- replace_partitions empties the person first
    select
        cast(null as {{ dbt.type_string() }}) as record_type,
        cast(null as {{ dbt.type_string() }}) as record_id,
        person_id,
        cast(null as {{ dbt.type_string() }}) as email_normalized,
        cast(null as timestamp) as created_at
    from affected_people
    {%- endif %}
)

select * from final
