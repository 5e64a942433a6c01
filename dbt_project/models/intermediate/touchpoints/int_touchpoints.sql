-- Every touchpoint of every person, one row per touchpoint_id: HubSpot first visits, form
-- submissions and email events, and Salesforce campaign responses, each with the points
-- alignment.yml gives its touch type (mql.points). Ties in time are ordered by touchpoint_id.
--
-- Incremental by person (macros/incremental/): a nightly build finds the people whose touches
-- may have changed since its last build (touch_changes: the people the identity map replaced since
-- (its log, int_person_keys__state_replaced), edited records, new or edited touch sources, edited
-- campaigns and forms, touches that left their person), recomputes every touch
-- of exactly those people with the same SQL a full build runs (macros/incremental/
-- touchpoint_kinds.sql), replaces their rows (strategy replace_partitions) and logs those people
-- for int_funnel__person_scores. Other rules (an
-- edited seed or mql var: the fingerprint in int_touchpoints__state_marks), a missing state or a
-- rebuilt identity map rebuild every person; --full-refresh rebuilds from scratch.

{#- only while parsing: the incremental branch reads these (unit tests give no such inputs) #}
{%- if not execute %}
-- depends_on: {{ ref('stg_salesforce__leads') }} {{ ref('stg_salesforce__contacts') }} {{ ref('stg_hubspot__contacts') }}
-- depends_on: {{ ref('stg_salesforce__campaign_members') }} {{ ref('stg_salesforce__campaigns') }}
-- depends_on: {{ ref('stg_hubspot__forms') }} {{ ref('stg_hubspot__form_submissions') }} {{ ref('stg_hubspot__email_events') }}
-- depends_on: {{ ref('int_person_keys') }} {{ ref('int_identity__person_emails') }}
-- depends_on: {{ ref('campaign_type_touches') }} {{ ref('utm_medium_channels') }} {{ ref('hubspot_source_channels') }}
{%- endif %}

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='person_id',
    tombstone_column='touchpoint_id',
    replaced_log=true,
    on_schema_change='fail',
    post_hook=[
        "{{ log_full_build_sql() }}",
        "{{ replace_state_table_sql(incremental_state_relation(this.schema, 'marks'),
                                    incremental_marks_sql(touch_source_models(), touch_rules_fingerprint_sql(),
                                                          ['int_person_keys'])) }}",
    ],
) }}

{%- set points = var('mql')['points'] %}
{%- set marks = read_incremental_marks(this.schema, []) %}
{%- set by_person = is_incremental() %}
{%- set identity_people = identity_people_since(marks, touch_rules_fingerprint_sql) %}
{%- set incremental = identity_people is not none %}

with

{% if by_person -%}

{% if incremental -%}
changes as (
    {{ touch_changes(marks, identity_people) }}
),

affected_people as (
    select person_id from changes where person_id is not null
    union
    -- a changed source row may leave the person it had
    select built.person_id
    from {{ this }} as built
    inner join changes
        on built.touchpoint_id = changes.touchpoint_id
),
{%- else -%}
affected_people as (
    -- other rules than the last build's, or no state: every person, before and now
    select person_id from {{ ref('int_person_keys') }}
    union
    select person_id from {{ this }}
),
{%- endif %}

affected_keys as (
    select * from {{ ref('int_person_keys') }}
    where person_id in (select person_id from affected_people)
),

affected_emails as (
    select * from {{ ref('int_identity__person_emails') }}
    where person_id in (select person_id from affected_people)
),

affected_hubspot_contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
    where hubspot_contact_id in (
        select record_id from affected_keys where record_type = 'hubspot_contact'
    )
),

affected_campaign_members as (
    -- a member whose lead belongs to someone else comes out under that person and is dropped below
    select * from {{ ref('stg_salesforce__campaign_members') }}
    where lead_id in (select record_id from affected_keys where record_type = 'lead')
        or contact_id in (select record_id from affected_keys where record_type = 'contact')
),

affected_form_submissions as (
    select * from {{ ref('stg_hubspot__form_submissions') }}
    where {{ staged_email_normalized('email_normalized', 'email') }} in (select email_normalized from affected_emails)
),

affected_email_events as (
    select * from {{ ref('stg_hubspot__email_events') }}
    where {{ staged_email_normalized('recipient_normalized', 'recipient') }}
        in (select email_normalized from affected_emails)
),

hubspot_visits as (
    {{ hubspot_visit_touches('affected_hubspot_contacts', ref('int_person_keys'), ref('hubspot_source_channels')) }}
),

hubspot_form_submissions as (
    {{ hubspot_form_touches('affected_form_submissions', ref('stg_hubspot__forms'), 'affected_emails',
                            'hubspot_visits', ref('utm_medium_channels')) }}
),

hubspot_email_events as (
    {{ hubspot_email_touches('affected_email_events', 'affected_emails') }}
),

campaign_members as (
    {{ campaign_member_touches('affected_campaign_members', ref('stg_salesforce__campaigns'),
                               ref('int_person_keys'), ref('campaign_type_touches')) }}
),

{%- else -%}

hubspot_visits as (
    select * from {{ ref('int_touchpoints__hubspot_visits') }}
),

hubspot_form_submissions as (
    select * from {{ ref('int_touchpoints__hubspot_form_submissions') }}
),

hubspot_email_events as (
    select * from {{ ref('int_touchpoints__hubspot_email_events') }}
),

campaign_members as (
    select * from {{ ref('int_touchpoints__campaign_members') }}
),

{%- endif %}

unioned as (
    select *, 'hubspot' as source_system from hubspot_visits
    union all
    select *, 'hubspot' as source_system from hubspot_form_submissions
    union all
    select *, 'hubspot' as source_system from hubspot_email_events
    union all
    select *, 'salesforce' as source_system from campaign_members
),

scored as (
    select
        touchpoint_id,
        person_id,
        touched_at,
        touch_type,
        channel,
        campaign_id,
        source_system,
        cast(case touch_type
            {%- for touch_type, value in points.items() %}
            when '{{ touch_type }}' then {{ value }}
            {%- endfor %}
            else 0
        end as double) as points
    from unioned
),

final as (
    select * from scored
    {%- if by_person %}
    where person_id in (select person_id from affected_people)

    union all

    -- one tombstone per affected person: replace_partitions empties the person first
    select
        cast(null as {{ dbt.type_string() }}) as touchpoint_id,
        person_id,
        cast(null as timestamp) as touched_at,
        cast(null as {{ dbt.type_string() }}) as touch_type,
        cast(null as {{ dbt.type_string() }}) as channel,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        cast(null as {{ dbt.type_string() }}) as source_system,
        cast(null as double) as points
    from affected_people
    {%- endif %}
)

select * from final
