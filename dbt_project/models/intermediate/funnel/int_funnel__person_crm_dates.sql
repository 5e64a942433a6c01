-- Per person, the CRM dates the funnel stages start from: the earliest CreatedDate /
-- createdate of the person's non-deleted records (leads, contacts, HubSpot contacts), and the
-- earliest ConvertedDate of a lead converted without a (non-deleted) opportunity.
--
-- Incremental by person: a nightly build recomputes the people the identity map logged since its
-- marks (their records and creation instants), the person of every lead whose staging row changed
-- since them, and the person of every converted lead whose opportunity was created or deleted
-- since them; replaces exactly those (strategy replace_partitions) and logs them for
-- fct_lead_funnel. A missing state or a rebuilt identity map recompute everyone. (record_count came
-- with the marks: a warehouse built before has neither, so its first nightly build adds the column,
-- on_schema_change='append_new_columns', and recomputes every person.)

{#- only while parsing: the incremental branch reads these (unit tests give no such inputs) #}
{%- if not execute %}
-- depends_on: {{ ref('stg_salesforce__opportunities') }}
{%- endif %}

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='person_id',
    tombstone_column='record_count',
    replaced_log=true,
    on_schema_change='append_new_columns',
    post_hook=[
        "{{ replace_state_table_sql(incremental_state_relation(this.schema, 'marks'),
                                    incremental_marks_sql(['stg_salesforce__leads', 'stg_salesforce__opportunities'],
                                                          no_rules_fingerprint_sql(), ['int_person_keys'])) }}",
        "{{ log_full_build_sql() }}",
    ],
) }}

{%- set marks = read_incremental_marks(this.schema, []) %}
{%- set identity_people = identity_people_since(marks, no_rules_fingerprint_sql) %}

with

leads as (
    select * from {{ ref('stg_salesforce__leads') }}
),

{#- the leads that changed, or whose converted opportunity was created or deleted (only with marks:
    a unit test gives no opportunities) -#}
{%- set changed_lead_ids = none %}
{%- if identity_people is not none %}
{%- set changed_lead_ids -%}
    select lead_id from leads where {{ changed_since(marks, 'stg_salesforce__leads') }}
    union all
    select lead_id from leads
    where converted_opportunity_id in (
        select opportunity_id from {{ ref('stg_salesforce__opportunities') }}
        where {{ changed_since(marks, 'stg_salesforce__opportunities') }}
    )
{%- endset %}
{%- endif %}
{{ person_keys_ctes(identity_and_lead_people(identity_people, changed_lead_ids)) }}

opportunities as (
    select * from {{ ref('int_opportunities') }}
),

record_dates as (
    -- int_person_keys carries each record's creation instant
    select
        person_id,
        count(*) as record_count,
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
        record_dates.record_count,
        record_dates.first_record_created_at,
        converted_without_opportunity.converted_date as converted_without_opportunity_date
    from persons
    left join record_dates
        on persons.person_id = record_dates.person_id
    left join converted_without_opportunity
        on persons.person_id = converted_without_opportunity.person_id
)

select * from final
{%- if is_incremental() %}

-- one tombstone per affected person (record_count null): replace_partitions empties the person first
union all by name
select person_id from affected_people
{%- endif %}
