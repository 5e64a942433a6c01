-- Campaign ROI: every non-deleted Salesforce campaign x attribution model. cost = ActualCost
-- (0 when empty) + ad spend under the campaign's name, in the reporting currency; touches and
-- people from the campaign's touchpoints; mqls_first_touch = MQLs whose earliest touch belongs
-- to the campaign (int_funnel__person_scores finds each person's earliest touch); attributed
-- figures from the fct_attribution rows of the campaign. Every cost-per figure and roi is null
-- when its denominator is 0.

with

campaign_costs as (

    select * from {{ ref('int_marts__campaign_costs') }}

),

touchpoints as (

    select * from {{ ref('int_touchpoints') }}

),

lead_funnel as (

    select * from {{ ref('fct_lead_funnel') }}

),

person_scores as (

    select * from {{ ref('int_funnel__person_scores') }}

),

attribution as (

    select * from {{ ref('fct_attribution') }}

),

campaign_touches as (

    select
        campaign_id,
        count(*) as touches,
        count(distinct person_id) as people
    from touchpoints
    where campaign_id is not null
    group by campaign_id

),

campaign_first_touch_mqls as (

    select
        person_scores.first_touch_campaign_id as campaign_id,
        count(*) as mqls_first_touch
    from person_scores
    inner join lead_funnel
        on person_scores.person_id = lead_funnel.person_id
    where person_scores.first_touch_campaign_id is not null
        and lead_funnel.mql_at is not null
    group by person_scores.first_touch_campaign_id

),

campaign_attribution as (

    -- one pass over the campaign's attribution rows, every model side by side
    select
        campaign_id,
        {%- for model in attribution_models() %}
        sum(weight_{{ model }} * amount) as attributed_pipeline_{{ model }},
        sum(case when is_won then weight_{{ model }} * amount else 0 end)
            as attributed_revenue_{{ model }},
        sum(weight_{{ model }}) as opportunity_weight_{{ model }},
        sum(case when is_won then weight_{{ model }} else 0 end)
            as won_weight_{{ model }}{{ ',' if not loop.last }}
        {%- endfor %}
    from attribution
    where campaign_id is not null
    group by campaign_id

),

campaign_attribution_by_model as (

    {%- for model in attribution_models() %}
    select
        campaign_id,
        '{{ model }}' as model,
        cast(attributed_pipeline_{{ model }} as double) as attributed_pipeline,
        cast(attributed_revenue_{{ model }} as double) as attributed_revenue,
        cast(opportunity_weight_{{ model }} as double) as opportunity_weight,
        cast(won_weight_{{ model }} as double) as won_weight
    from campaign_attribution
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

models as (

    {%- for model in attribution_models() %}
    select '{{ model }}' as model {{ 'union all' if not loop.last }}
    {%- endfor %}

),

campaign_models as (

    select
        campaign_costs.campaign_id,
        campaign_costs.campaign_name,
        models.model,
        campaign_costs.cost,
        coalesce(campaign_touches.touches, 0) as touches,
        coalesce(campaign_touches.people, 0) as people,
        coalesce(campaign_first_touch_mqls.mqls_first_touch, 0) as mqls_first_touch,
        coalesce(campaign_attribution_by_model.attributed_pipeline, cast(0 as double)) as attributed_pipeline,
        coalesce(campaign_attribution_by_model.attributed_revenue, cast(0 as double)) as attributed_revenue,
        coalesce(campaign_attribution_by_model.opportunity_weight, cast(0 as double)) as opportunity_weight,
        coalesce(campaign_attribution_by_model.won_weight, cast(0 as double)) as won_weight
    from campaign_costs
    cross join models
    left join campaign_touches
        on campaign_costs.campaign_id = campaign_touches.campaign_id
    left join campaign_first_touch_mqls
        on campaign_costs.campaign_id = campaign_first_touch_mqls.campaign_id
    left join campaign_attribution_by_model
        on campaign_costs.campaign_id = campaign_attribution_by_model.campaign_id
        and models.model = campaign_attribution_by_model.model

),

final as (

    select
        campaign_id,
        campaign_name,
        model,
        cost,
        touches,
        people,
        mqls_first_touch,
        attributed_pipeline,
        attributed_revenue,
        opportunity_weight,
        won_weight,
        {{ safe_divide('attributed_revenue - cost', 'cost') }} as roi,
        {{ safe_divide('cost', 'people') }} as cost_per_lead,
        {{ safe_divide('cost', 'mqls_first_touch') }} as cost_per_mql,
        {{ safe_divide('cost', 'opportunity_weight') }} as cost_per_opportunity,
        {{ safe_divide('cost', 'won_weight') }} as cost_per_won
    from campaign_models

)

select * from final
