-- The lead funnel: one row per person (SPEC 3 "Funnel stages", SPEC 4). Every stage is a naive
-- UTC timestamp or null; a person may skip stages but never goes backwards. No email, names or
-- phone numbers: the person is known only by person_id.
--
-- Incremental by person: a person's row follows from their rows in int_persons, the int_funnel__*
-- tables and alignment.yml's crm and sla rules. A nightly build recomputes the people int_persons
-- or the people-level int_funnel__ models replaced since the builds of theirs it last read (their
-- logs, funnel_people_models), and the people whose first opportunity differs from the snapshot kept
-- in fct_lead_funnel__state_first_opportunities (int_funnel__person_opportunities is rebuilt whole:
-- an opportunity's edit or a new conversion rate shows there), and replaces exactly those (strategy
-- replace_partitions). Other rules (the fingerprint), a missing state or an upstream log that says
-- "everyone" recompute every person. It logs the people it replaced (replaced_log): the publish
-- copies just those into the published file.

{%- set state_schema = ref('int_persons').schema %}

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='person_id',
    tombstone_column='recycled_count',
    on_schema_change='fail',
    post_hook=[
        "{{ replace_state_table_sql(incremental_state_relation(ref('int_persons').schema, 'marks'),
                                    incremental_marks_sql([], funnel_rules_fingerprint_sql(),
                                                          funnel_people_models())) }}",
        "{{ replace_state_table_sql(incremental_state_relation(ref('int_persons').schema, 'first_opportunities'),
                                    'select * from ' ~ ref('int_funnel__person_opportunities')) }}",
        "{{ log_full_build_sql() }}",
    ],
    replaced_log=true,
) }}

{%- set crm = var('crm') %}
{%- set bucket_bounds = var('sla')['buckets_minutes'] %}
{%- set bucket_labels = var('response_bucket_labels') %}
{%- set marks = read_incremental_marks(state_schema, ['first_opportunities']) %}
{%- set logged_people = people_replaced_since(marks, funnel_rules_fingerprint_sql, funnel_people_models()) %}

with

{% if is_incremental() -%}
affected_people as (
    {%- if logged_people is not none %}
    {{ logged_people }}
    union
    -- another first opportunity: new, gone, or other figures (an edit, a new conversion rate)
    select person_id from (
        {{ rows_changed_sql(ref('int_funnel__person_opportunities'),
                            incremental_state_relation(state_schema, 'first_opportunities')) }}
    ) as changed_first_opportunities
    {%- else %}
    {{ people_to_recompute(none, ref('int_persons')) }}
    {%- endif %}
),
{%- endif %}

{%- for name, model in [('persons', 'int_persons'), ('crm_dates', 'int_funnel__person_crm_dates'),
                         ('scores', 'int_funnel__person_scores'), ('first_opportunities', 'int_funnel__person_opportunities'),
                         ('status_changes', 'int_funnel__lead_status_changes'),
                         ('sales_activities', 'int_funnel__sales_activities')] %}

{{ name }} as (
    select * from {{ ref(model) }}
    {%- if is_incremental() %}
    where person_id in (select person_id from affected_people)
    {%- endif %}
),
{%- endfor %}

people as (
    select
        persons.person_id,
        persons.account_id,
        persons.owner_id,
        persons.lead_source,
        persons.employees,
        persons.industry,
        persons.country,
        persons.is_fit,
        scores.score,
        scores.first_touch_at,
        scores.first_channel,
        scores.mql_at,
        scores.mql_touchpoint_id,
        crm_dates.first_record_created_at,
        crm_dates.converted_without_opportunity_date,
        first_opportunities.opportunity_id,
        first_opportunities.opportunity_at,
        first_opportunities.close_date,
        first_opportunities.is_won,
        first_opportunities.is_lost,
        first_opportunities.amount_reporting,
        -- null only when none of them is known
        {{ least_known([
            'crm_dates.first_record_created_at',
            'scores.first_touch_at',
            'first_opportunities.opportunity_at',
        ]) }} as lead_at
    from persons
    left join scores
        on persons.person_id = scores.person_id
    left join crm_dates
        on persons.person_id = crm_dates.person_id
    left join first_opportunities
        on persons.person_id = first_opportunities.person_id
),

first_responses as (
    select
        people.person_id,
        min(sales_activities.activity_at) as first_response_at
    from people
    inner join sales_activities
        on people.person_id = sales_activities.person_id
    where sales_activities.activity_at >= people.mql_at
    group by people.person_id
),

disqualifications as (
    -- the reason on the lead whose change disqualified the person first (tie: smallest lead id);
    -- a null reason on that lead stays null
    select
        status_changes.person_id,
        status_changes.disqualification_reason,
        row_number() over (
            partition by status_changes.person_id
            order by status_changes.changed_at, status_changes.lead_id
        ) as disqualification_number
    from status_changes
    where status_changes.status in ({{ sql_string_list(crm['disqualified_lead_statuses']) }})
        and status_changes.changed_at is not null
),

first_disqualifications as (
    select
        person_id,
        disqualification_reason
    from disqualifications
    where disqualification_number = 1
),

status_milestones as (
    select
        people.person_id,
        min(case
            when status_changes.status in ({{ sql_string_list(crm['sal_lead_statuses']) }})
                and status_changes.changed_at >= people.mql_at
                then status_changes.changed_at
        end) as first_sal_status_at,
        min(case
            when status_changes.status in ({{ sql_string_list(crm['sql_lead_statuses']) }})
                then status_changes.changed_at
        end) as first_sql_status_at,
        min(case
            when status_changes.status in ({{ sql_string_list(crm['disqualified_lead_statuses']) }})
                then status_changes.changed_at
        end) as disqualified_at,
        count(case
            when status_changes.status in ({{ sql_string_list(crm['recycled_lead_statuses']) }}) then 1
        end) as recycled_count
    from people
    inner join status_changes
        on people.person_id = status_changes.person_id
    group by people.person_id
),

stages as (
    select
        people.*,
        case when people.mql_at is not null then first_responses.first_response_at end as first_response_at,
        case
            when people.mql_at is not null
                then {{ least_known(['first_responses.first_response_at', 'status_milestones.first_sal_status_at']) }}
        end as sal_at,
        -- a date-only ConvertedDate is the start of that day UTC, moved up to lead_at
        {{ least_known([
            'status_milestones.first_sql_status_at',
            'people.opportunity_at',
            'case when people.converted_without_opportunity_date is not null then '
                ~ greatest_known(['cast(people.converted_without_opportunity_date as timestamp)', 'people.lead_at'])
                ~ ' end',
        ]) }} as sql_at,
        -- a date-only CloseDate is the start of that day UTC, moved up to opportunity_at
        case
            when people.is_won and people.close_date is not null
                then {{ greatest_known(['cast(people.close_date as timestamp)', 'people.opportunity_at']) }}
        end as won_at,
        case
            when people.is_lost and people.close_date is not null
                then {{ greatest_known(['cast(people.close_date as timestamp)', 'people.opportunity_at']) }}
        end as lost_at,
        status_milestones.disqualified_at,
        case
            when status_milestones.disqualified_at is not null then first_disqualifications.disqualification_reason
        end as disqualification_reason,
        coalesce(status_milestones.recycled_count, 0) as recycled_count
    from people
    left join first_responses
        on people.person_id = first_responses.person_id
    left join status_milestones
        on people.person_id = status_milestones.person_id
    left join first_disqualifications
        on people.person_id = first_disqualifications.person_id
),

speed_to_lead as (
    select
        *,
        -- exact minutes, never rounded
        {{ dbt.datediff('mql_at', 'first_response_at', 'microsecond') }} / cast(60000000 as double) as response_minutes
    from stages
),

derived as (
    select
        *,
        case
            when mql_at is null then null
            when response_minutes is null then 'no_response'
            {%- for bound in bucket_bounds %}
            when response_minutes <= {{ bound }} then '{{ bucket_labels[loop.index0] }}'
            {%- endfor %}
            else '{{ bucket_labels[bucket_bounds | length] }}'
        end as response_bucket,
        case
            when mql_at is not null
                then coalesce(response_minutes <= {{ var('sla')['response_minutes'] }}, false)
        end as sla_met,
        coalesce(first_touch_at < sql_at or (sql_at is null and first_touch_at is not null), false)
        {%- if crm['sales_lead_sources'] | length > 0 %}
            and (lead_source is null or lead_source not in ({{ sql_string_list(crm['sales_lead_sources']) }}))
        {%- endif %} as is_marketing_sourced,
        case when won_at is not null then amount_reporting end as won_amount
    from speed_to_lead
),

final as (
    select
        person_id,
        account_id,
        lead_at,
        mql_at,
        first_response_at,
        sal_at,
        sql_at,
        opportunity_at,
        won_at,
        lost_at,
        disqualified_at,
        disqualification_reason,
        cast(recycled_count as bigint) as recycled_count,
        first_channel,
        lead_source,
        owner_id,
        is_fit,
        score,
        cast(response_minutes as double) as response_minutes,
        response_bucket,
        sla_met,
        is_marketing_sourced,
        opportunity_id,
        won_amount,
        mql_touchpoint_id,
        employees,
        industry,
        country
    from derived
)

select * from final
{%- if is_incremental() %}

-- one tombstone per affected person (recycled_count null, never null in a real row):
-- replace_partitions empties the person first
union all by name
select person_id from affected_people
{%- endif %}
