-- Every Lead Status change of every person: LeadHistory rows with Field = 'Status' of the
-- person's non-deleted leads (NewValue at CreatedDate). A lead with no LeadHistory Status row
-- (an org that does not track Status history) counts its current Status as one change at its
-- SystemModstamp (CreatedDate when the export has no SystemModstamp).
--
-- Incremental by person: a nightly build recomputes the people the identity map logged since its
-- marks (a lead that moved or left has its person before among them), and the person of every
-- lead whose staging row or LeadHistory changed since them, and replaces exactly those (strategy
-- replace_partitions) and logs them for fct_lead_funnel; a missing state or a rebuilt identity map
-- recompute everyone.

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='person_id',
    tombstone_column='status',
    replaced_log=true,
    on_schema_change='fail',
    post_hook=[
        "{{ replace_state_table_sql(incremental_state_relation(this.schema, 'marks'),
                                    incremental_marks_sql(['stg_salesforce__leads', 'stg_salesforce__lead_history'],
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

lead_history as (
    select * from {{ ref('stg_salesforce__lead_history') }}
),

{#- the leads whose status or history changed (only with marks) -#}
{%- set changed_lead_ids = none %}
{%- if identity_people is not none %}
{%- set changed_lead_ids -%}
    select lead_id from leads where {{ changed_since(marks, 'stg_salesforce__leads') }}
    union all
    select lead_id from lead_history where {{ changed_since(marks, 'stg_salesforce__lead_history') }}
{%- endset %}
{%- endif %}
{{ person_keys_ctes(identity_and_lead_people(identity_people, changed_lead_ids)) }}

person_leads as (
    select
        person_keys.person_id,
        leads.lead_id,
        leads.status,
        leads.disqualification_reason,
        coalesce(leads.system_modstamp, leads.created_date) as status_observed_at
    from person_keys
    inner join leads
        on person_keys.record_type = 'lead'
        and person_keys.record_id = leads.lead_id
),

status_history as (
    select
        lead_history_id,
        lead_id,
        new_value as status,
        created_date as changed_at
    from lead_history
    where lower(trim(field)) = 'status'
),

history_changes as (
    select
        person_leads.person_id,
        person_leads.lead_id,
        status_history.status,
        status_history.changed_at,
        'lead_history' as change_source,
        person_leads.disqualification_reason
    from person_leads
    inner join status_history
        on person_leads.lead_id = status_history.lead_id
),

leads_without_history as (
    select person_leads.*
    from person_leads
    left join (select distinct lead_id from status_history) as tracked
        on person_leads.lead_id = tracked.lead_id
    where tracked.lead_id is null
),

current_status_changes as (
    select
        person_id,
        lead_id,
        status,
        status_observed_at as changed_at,
        'current_status' as change_source,
        disqualification_reason
    from leads_without_history
),

unioned as (
    select * from history_changes
    union all
    select * from current_status_changes
),

final as (
    select * from unioned
    where status is not null
    {%- if is_incremental() %}

    union all

    -- one tombstone per affected person: replace_partitions empties the person first
    select
        person_id,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        cast(null as {{ dbt.type_string() }}) as status,
        cast(null as timestamp) as changed_at,
        cast(null as {{ dbt.type_string() }}) as change_source,
        cast(null as {{ dbt.type_string() }}) as disqualification_reason
    from affected_people
    {%- endif %}
)

select * from final
