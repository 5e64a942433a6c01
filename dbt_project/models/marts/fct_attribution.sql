-- Closed-loop multi-touch attribution (SPEC 3 "Attribution"): one row per opportunity x
-- eligible touch, or one `unattributed` row for an opportunity without one, with a weight
-- per model; every model's weights sum to 1 per opportunity.
--
-- Incremental by opportunity (macros/incremental/): a nightly build recomputes, with the same
-- SQL as a full build, every row of the opportunities whose inputs may have changed since its
-- last build, and replaces exactly those (strategy replace_partitions): an opportunity whose
-- own figures (created, close, won/lost, amount in the reporting currency: a new conversion
-- rate shows here) or whose people or their MQL touches (fct_lead_funnel.mql_touchpoint_id)
-- differ from the snapshots kept in fct_attribution__state_*, or one of whose people
-- int_touchpoints replaced since the build of it this model last read (its log: a touch that left
-- its person replaced that person too). Deleted opportunities are emptied. Other rules (an edited
-- seed or var: the fingerprint), a missing state or a rebuilt int_touchpoints rebuild every
-- opportunity. It logs the opportunities it replaced (replaced_log): the
-- publish copies just those into the published file.

{#- only while parsing: the incremental branch and the fingerprint read these (unit tests give no such inputs) #}
{%- if not execute %}
-- depends_on: {{ ref('int_touchpoints') }}
-- depends_on: {{ ref('campaign_type_touches') }} {{ ref('utm_medium_channels') }} {{ ref('hubspot_source_channels') }}
{%- endif %}

{%- set state_schema = ref('int_opportunities').schema %}

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='opportunity_id',
    tombstone_column='attribution_id',
    on_schema_change='fail',
    post_hook=[
        "{{ replace_state_table_sql(incremental_state_relation(ref('int_opportunities').schema, 'marks'),
                                    incremental_marks_sql([], attribution_rules_fingerprint_sql(),
                                                          ['int_touchpoints'])) }}",
        "{{ replace_state_table_sql(incremental_state_relation(ref('int_opportunities').schema, 'opportunities'),
                                    attribution_opportunity_inputs_sql()) }}",
        "{{ replace_state_table_sql(incremental_state_relation(ref('int_opportunities').schema, 'opportunity_people'),
                                    attribution_people_inputs_sql()) }}",
        "{{ log_full_build_sql() }}",
    ],
    replaced_log=true,
) }}

{%- set attribution = var('attribution') %}
{%- set u_shaped = attribution['u_shaped'] %}
{%- set w_shaped = attribution['w_shaped'] %}
{%- set marks = read_incremental_marks(state_schema, ['opportunities', 'opportunity_people']) %}
{%- set by_opportunity = is_incremental() %}
{#- the people whose touchpoints were replaced since this model's marks, or none: every opportunity -#}
{%- set touched_people = people_replaced_since(marks, attribution_rules_fingerprint_sql, ['int_touchpoints']) %}
{%- set incremental = touched_people is not none %}

with

{% if by_opportunity -%}

{% if incremental -%}
touched_people as (
    {{ touched_people }}
),

current_opportunity_inputs as (
    {{ attribution_opportunity_inputs_sql() }}
),

previous_opportunity_inputs as (
    select * from {{ incremental_state_relation(state_schema, 'opportunities') }}
),

current_people_inputs as (
    {{ attribution_people_inputs_sql() }}
),

previous_people_inputs as (
    select * from {{ incremental_state_relation(state_schema, 'opportunity_people') }}
),

changed_inputs as (
    -- new, deleted or edited opportunities (created, close, won/lost, converted amount)
    {{ rows_changed_sql('current_opportunity_inputs', 'previous_opportunity_inputs') }}
),

changed_people as (
    -- people joining or leaving, people with another MQL touch
    {{ rows_changed_sql('current_people_inputs', 'previous_people_inputs') }}
),

affected_opportunities as (
    select opportunity_id from changed_inputs
    union
    select opportunity_id from changed_people
    union
    -- a person whose touches were replaced
    select opportunity_people.opportunity_id
    from {{ ref('int_opportunity_people') }} as opportunity_people
    inner join touched_people
        on opportunity_people.person_id = touched_people.person_id
),
{%- else -%}
affected_opportunities as (
    -- other rules than the last build's, or no state: every opportunity, before and now
    select opportunity_id from {{ ref('int_opportunities') }}
    union
    select opportunity_id from {{ this }}
),
{%- endif %}

opportunities as (

    select * from {{ ref('int_opportunities') }}
    where opportunity_id in (select opportunity_id from affected_opportunities)

),

opportunity_people as (

    select * from {{ ref('int_opportunity_people') }}
    where opportunity_id in (select opportunity_id from affected_opportunities)

),

affected_touchpoints as (

    select * from {{ ref('int_touchpoints') }}
    where person_id in (select person_id from opportunity_people)

),

eligible_touches as (

    {{ eligible_touches('opportunities', 'opportunity_people', 'affected_touchpoints') }}

),

lead_funnel as (

    select * from {{ ref('fct_lead_funnel') }}
    where person_id in (select person_id from opportunity_people)

),

{%- else -%}

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

eligible_touches as (

    select * from {{ ref('int_attribution__eligible_touches') }}

),

opportunity_people as (

    select * from {{ ref('int_opportunity_people') }}

),

lead_funnel as (

    select * from {{ ref('fct_lead_funnel') }}

),

{%- endif %}

mql_touches_of_opportunities as (

    -- the touches that made one of the opportunity's people an MQL
    select distinct
        opportunity_people.opportunity_id,
        lead_funnel.mql_touchpoint_id as touchpoint_id
    from opportunity_people
    inner join lead_funnel
        on opportunity_people.person_id = lead_funnel.person_id
    where lead_funnel.mql_touchpoint_id is not null

),

w_shaped_roles as (

    select
        eligible_touches.*,
        eligible_touches.position = 1 as holds_first_role,
        mql_touches_of_opportunities.touchpoint_id is not null as holds_lead_role,
        eligible_touches.position = eligible_touches.touch_count as holds_opportunity_role
    from eligible_touches
    left join mql_touches_of_opportunities
        on eligible_touches.opportunity_id = mql_touches_of_opportunities.opportunity_id
        and eligible_touches.touchpoint_id = mql_touches_of_opportunities.touchpoint_id

),

w_shaped_role_counts as (

    select
        *,
        not (holds_first_role or holds_lead_role or holds_opportunity_role) as holds_no_role,
        count(
            case when not (holds_first_role or holds_lead_role or holds_opportunity_role) then 1 end
        ) over (partition by opportunity_id) as touches_without_role
    from w_shaped_roles

),

raw_weights as (

    select
        *,
        case
            when holds_no_role then cast({{ w_shaped['middle'] }} as double) / touches_without_role
            else
                cast({{ w_shaped['first'] }} as double) * cast(holds_first_role as integer)
                + cast({{ w_shaped['lead'] }} as double) * cast(holds_lead_role as integer)
                + cast({{ w_shaped['opportunity'] }} as double) * cast(holds_opportunity_role as integer)
        end as raw_weight_w_shaped,
        -- 2^(-days/half_life), taken relative to the opportunity's latest touch so that
        -- long lookbacks cannot underflow; the ratio, and so the normalised weight, is the same
        power(
            cast(2 as double),
            -(
                days_before_opportunity
                - min(days_before_opportunity) over (partition by opportunity_id)
            ) / cast({{ attribution['time_decay_half_life_days'] }} as double)
        ) as raw_weight_time_decay
    from w_shaped_role_counts

),

raw_weight_totals as (

    select
        *,
        sum(raw_weight_w_shaped) over (partition by opportunity_id) as total_raw_weight_w_shaped,
        sum(raw_weight_time_decay) over (partition by opportunity_id) as total_raw_weight_time_decay
    from raw_weights

),

attributed as (

    select
        opportunity_id,
        touchpoint_id,
        person_id,
        campaign_id,
        channel,
        touch_type,
        touched_at,
        position,
        touch_count,
        case when position = 1 then cast(1 as double) else cast(0 as double) end as weight_first_touch,
        case when position = touch_count then cast(1 as double) else cast(0 as double) end as weight_last_touch,
        cast(1 as double) / touch_count as weight_linear,
        case
            when touch_count = 1 then cast(1 as double)
            when touch_count = 2 then cast(0.5 as double)
            when position = 1 then cast({{ u_shaped['first'] }} as double)
            when position = touch_count then cast({{ u_shaped['last'] }} as double)
            else cast({{ u_shaped['middle'] }} as double) / (touch_count - 2)
        end as weight_u_shaped,
        -- shares configured so that no touch earns anything fall back to equal shares
        case
            when total_raw_weight_w_shaped > 0 then raw_weight_w_shaped / total_raw_weight_w_shaped
            else cast(1 as double) / touch_count
        end as weight_w_shaped,
        raw_weight_time_decay / total_raw_weight_time_decay as weight_time_decay
    from raw_weight_totals

),

opportunities_with_touches as (

    select distinct opportunity_id
    from eligible_touches

),

unattributed as (

    -- no eligible touch: one row that takes all the credit in every model, so attributed
    -- totals reconcile with pipeline and revenue
    select
        opportunities.opportunity_id,
        cast(null as varchar) as touchpoint_id,
        cast(null as varchar) as person_id,
        cast(null as varchar) as campaign_id,
        'unattributed' as channel,
        'unattributed' as touch_type,
        cast(null as timestamp) as touched_at,
        0 as position,
        0 as touch_count,
        cast(1 as double) as weight_first_touch,
        cast(1 as double) as weight_last_touch,
        cast(1 as double) as weight_linear,
        cast(1 as double) as weight_u_shaped,
        cast(1 as double) as weight_w_shaped,
        cast(1 as double) as weight_time_decay
    from opportunities
    left join opportunities_with_touches
        on opportunities.opportunity_id = opportunities_with_touches.opportunity_id
    where opportunities_with_touches.opportunity_id is null

),

all_rows as (

    select * from attributed
    union all
    select * from unattributed

),

final as (

    select
        all_rows.opportunity_id || '|' || coalesce(all_rows.touchpoint_id, 'unattributed')
            as attribution_id,
        all_rows.opportunity_id,
        all_rows.touchpoint_id,
        all_rows.person_id,
        all_rows.campaign_id,
        all_rows.channel,
        all_rows.touch_type,
        all_rows.touched_at,
        cast(all_rows.position as integer) as position,
        cast(all_rows.touch_count as integer) as touch_count,
        cast(all_rows.weight_first_touch as double) as weight_first_touch,
        cast(all_rows.weight_last_touch as double) as weight_last_touch,
        cast(all_rows.weight_linear as double) as weight_linear,
        cast(all_rows.weight_u_shaped as double) as weight_u_shaped,
        cast(all_rows.weight_w_shaped as double) as weight_w_shaped,
        cast(all_rows.weight_time_decay as double) as weight_time_decay,
        opportunities.amount_reporting as amount,
        opportunities.is_won,
        opportunities.is_lost,
        opportunities.created_at as opportunity_created_at,
        opportunities.close_at
    from all_rows
    inner join opportunities
        on all_rows.opportunity_id = opportunities.opportunity_id

)

select * from final
{%- if by_opportunity %}

union all

-- one tombstone per affected opportunity: replace_partitions empties the opportunity first
select
    cast(null as {{ dbt.type_string() }}) as attribution_id,
    opportunity_id,
    cast(null as {{ dbt.type_string() }}) as touchpoint_id,
    cast(null as {{ dbt.type_string() }}) as person_id,
    cast(null as {{ dbt.type_string() }}) as campaign_id,
    cast(null as {{ dbt.type_string() }}) as channel,
    cast(null as {{ dbt.type_string() }}) as touch_type,
    cast(null as timestamp) as touched_at,
    cast(null as integer) as position,
    cast(null as integer) as touch_count,
    cast(null as double) as weight_first_touch,
    cast(null as double) as weight_last_touch,
    cast(null as double) as weight_linear,
    cast(null as double) as weight_u_shaped,
    cast(null as double) as weight_w_shaped,
    cast(null as double) as weight_time_decay,
    cast(null as double) as amount,
    cast(null as boolean) as is_won,
    cast(null as boolean) as is_lost,
    cast(null as timestamp) as opportunity_created_at,
    cast(null as timestamp) as close_at
from affected_opportunities
{%- endif %}
