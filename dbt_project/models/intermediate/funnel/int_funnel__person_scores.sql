-- Per person, what their touches add up to: total score, first touch (time, channel, campaign) and,
-- for a fit person, the touch at which cumulative points (touches in touched_at, then
-- touchpoint_id order; every touch type counts) first reach mql.score_threshold.
--
-- Incremental by person: a person's row follows from their touches and is_fit alone, so a nightly
-- build recomputes the people int_touchpoints or int_persons replaced since the builds of theirs it
-- last read (their logs), replaces exactly those (strategy replace_partitions) and logs them for
-- fct_lead_funnel. Another threshold (the fingerprint), a missing state or a rebuilt upstream
-- recompute every person.

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='person_id',
    tombstone_column='first_channel',
    replaced_log=true,
    on_schema_change='fail',
    post_hook=[
        "{{ replace_state_table_sql(incremental_state_relation(this.schema, 'marks'),
                                    incremental_marks_sql([], person_score_fingerprint_sql(),
                                                          ['int_touchpoints', 'int_persons'])) }}",
        "{{ log_full_build_sql() }}",
    ],
) }}

{%- set marks = read_incremental_marks(this.schema, []) %}
{#- the people either upstream log names since this model's marks, or none: every person -#}
{%- set logged_people = people_replaced_since(marks, person_score_fingerprint_sql, ['int_touchpoints', 'int_persons']) %}

with

{% if is_incremental() -%}
affected_people as (
    {{ people_to_recompute(logged_people, ref('int_persons')) }}
),

touchpoints as (
    select * from {{ ref('int_touchpoints') }}
    where person_id in (select person_id from affected_people)
),

persons as (
    select * from {{ ref('int_persons') }}
    where person_id in (select person_id from affected_people)
),
{%- else -%}
touchpoints as (
    select * from {{ ref('int_touchpoints') }}
),

persons as (
    select * from {{ ref('int_persons') }}
),
{%- endif %}

ordered as (
    select
        touchpoint_id,
        person_id,
        touched_at,
        channel,
        campaign_id,
        points,
        row_number() over (partition by person_id order by touched_at, touchpoint_id) as touch_number,
        -- summed as decimals so fractional points reach the threshold exactly
        sum(cast(points as decimal(18, 6))) over (
            partition by person_id
            order by touched_at, touchpoint_id
            rows between unbounded preceding and current row
        ) as cumulative_points
    from touchpoints
),

first_touches as (
    select
        person_id,
        touched_at as first_touch_at,
        channel as first_channel,
        campaign_id as first_touch_campaign_id
    from ordered
    where touch_number = 1
),

totals as (
    select
        person_id,
        cast(sum(cast(points as decimal(18, 6))) as double) as score
    from ordered
    group by person_id
),

mql_touches as (
    select
        ordered.person_id,
        ordered.touched_at as mql_at,
        ordered.touchpoint_id as mql_touchpoint_id
    from ordered
    inner join persons
        on ordered.person_id = persons.person_id
    where persons.is_fit
      and ordered.cumulative_points >= cast({{ var('mql')['score_threshold'] }} as decimal(18, 6))
    qualify row_number() over (partition by ordered.person_id order by ordered.touch_number) = 1
),

final as (
    select
        persons.person_id,
        coalesce(totals.score, cast(0 as double)) as score,
        first_touches.first_touch_at,
        coalesce(first_touches.first_channel, 'no_touch') as first_channel,
        first_touches.first_touch_campaign_id,
        mql_touches.mql_at,
        mql_touches.mql_touchpoint_id
    from persons
    left join totals
        on persons.person_id = totals.person_id
    left join first_touches
        on persons.person_id = first_touches.person_id
    left join mql_touches
        on persons.person_id = mql_touches.person_id
    {%- if is_incremental() %}

    union all

    -- one tombstone per affected person: replace_partitions empties the person first
    select
        person_id,
        cast(null as double) as score,
        cast(null as timestamp) as first_touch_at,
        cast(null as {{ dbt.type_string() }}) as first_channel,
        cast(null as {{ dbt.type_string() }}) as first_touch_campaign_id,
        cast(null as timestamp) as mql_at,
        cast(null as {{ dbt.type_string() }}) as mql_touchpoint_id
    from affected_people
    {%- endif %}
)

select * from final
