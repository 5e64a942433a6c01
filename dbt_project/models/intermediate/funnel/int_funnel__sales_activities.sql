-- Sales activities on people: non-deleted Tasks and Events whose WhoId is one of a person's
-- (non-deleted) lead or contact ids, at their CreatedDate. first_response_at is the first of
-- these at or after the person's mql_at.
--
-- Incremental by person: a nightly build recomputes the people the identity map logged since its
-- marks, and the people, now and before, of every Task or Event whose staging row changed since
-- them (a changed WhoId moves an activity), and replaces exactly those (strategy
-- replace_partitions) and logs them for fct_lead_funnel; a missing state or a rebuilt identity map
-- recompute everyone.

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='person_id',
    tombstone_column='activity_id',
    replaced_log=true,
    on_schema_change='fail',
    post_hook=[
        "{{ replace_state_table_sql(incremental_state_relation(this.schema, 'marks'),
                                    incremental_marks_sql(['stg_salesforce__tasks', 'stg_salesforce__events'],
                                                          no_rules_fingerprint_sql(), ['int_person_keys'])) }}",
        "{{ log_full_build_sql() }}",
    ],
) }}

{%- set marks = read_incremental_marks(this.schema, []) %}
{%- set identity_people = identity_people_since(marks, no_rules_fingerprint_sql) %}

with

tasks as (
    select * from {{ ref('stg_salesforce__tasks') }}
),

events as (
    select * from {{ ref('stg_salesforce__events') }}
),

{%- set changed_people = none %}
{%- if identity_people is not none %}
{%- set changed_people -%}
    {{ identity_people }}
    union
    -- the person now of a changed activity's WhoId
    select changed_keys.person_id
    from {{ ref('int_person_keys') }} as changed_keys
    inner join (
        select who_id from tasks where {{ changed_since(marks, 'stg_salesforce__tasks') }}
        union all
        select who_id from events where {{ changed_since(marks, 'stg_salesforce__events') }}
    ) as changed_activities
        on changed_keys.record_type in ('lead', 'contact')
        and changed_keys.record_id = changed_activities.who_id
    union
    -- and the person it had
    select built.person_id
    from {{ this }} as built
    where (built.activity_type = 'task' and built.activity_id in (
            select task_id from tasks where {{ changed_since(marks, 'stg_salesforce__tasks') }}))
        or (built.activity_type = 'event' and built.activity_id in (
            select event_id from events where {{ changed_since(marks, 'stg_salesforce__events') }}))
{%- endset %}
{%- endif %}
{{ person_keys_ctes(changed_people) }}

activities as (
    select 'task' as activity_type, task_id as activity_id, who_id, created_date as activity_at
    from tasks
    where not is_deleted
    union all
    select 'event' as activity_type, event_id as activity_id, who_id, created_date as activity_at
    from events
    where not is_deleted
),

final as (
    select
        person_keys.person_id,
        activities.activity_type,
        activities.activity_id,
        activities.activity_at
    from activities
    inner join person_keys
        on person_keys.record_type in ('lead', 'contact')
        and activities.who_id = person_keys.record_id
    where activities.activity_at is not null
    {%- if is_incremental() %}

    union all

    -- one tombstone per affected person: replace_partitions empties the person first
    select
        person_id,
        cast(null as {{ dbt.type_string() }}) as activity_type,
        cast(null as {{ dbt.type_string() }}) as activity_id,
        cast(null as timestamp) as activity_at
    from affected_people
    {%- endif %}
)

select * from final
