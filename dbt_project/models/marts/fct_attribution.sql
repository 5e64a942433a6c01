-- Closed-loop multi-touch attribution (SPEC 3 "Attribution"): one row per opportunity x
-- eligible touch, or one `unattributed` row for an opportunity without one, with a weight
-- per model; every model's weights sum to 1 per opportunity.

{%- set attribution = var('attribution') %}
{%- set u_shaped = attribution['u_shaped'] %}
{%- set w_shaped = attribution['w_shaped'] %}

with

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
