-- Attribution by channel: fct_attribution rows by the calendar month of the opportunity's
-- CreatedDate (var timezone), the touch's channel ('unattributed' for opportunities without
-- an eligible touch) and attribution model. attributed_pipeline = sum(weight x amount);
-- attributed_revenue = the same over won opportunities; opportunities and touches count
-- rows with weight > 0.

with

attribution as (

    select * from {{ ref('fct_attribution') }}

),

attribution_rows as (

    select
        {{ local_period('month', 'opportunity_created_at') }} as month,
        coalesce(channel, 'unattributed') as channel,
        opportunity_id,
        amount,
        is_won,
        {%- for model in attribution_models() %}
        weight_{{ model }}{{ ',' if not loop.last }}
        {%- endfor %}
    from attribution

),

by_opportunity as (

    -- each opportunity's rows per month and channel first: the opportunity counts below are then
    -- plain counts instead of a count(distinct) per model (5x faster at 1M people)
    select
        month,
        channel,
        opportunity_id,
        {%- for model in attribution_models() %}
        sum(weight_{{ model }} * amount) as pipeline_{{ model }},
        sum(case when is_won then weight_{{ model }} * amount else 0 end) as revenue_{{ model }},
        count(case when weight_{{ model }} > 0 then 1 end) as touches_{{ model }}{{ ',' if not loop.last }}
        {%- endfor %}
    from attribution_rows
    group by month, channel, opportunity_id

),

by_month_and_channel as (

    -- one pass over the opportunities, every model side by side
    select
        month,
        channel,
        {%- for model in attribution_models() %}
        sum(pipeline_{{ model }}) as attributed_pipeline_{{ model }},
        sum(revenue_{{ model }}) as attributed_revenue_{{ model }},
        count(case when touches_{{ model }} > 0 then 1 end) as opportunities_{{ model }},
        cast(sum(touches_{{ model }}) as bigint) as touches_{{ model }}{{ ',' if not loop.last }}
        {%- endfor %}
    from by_opportunity
    group by month, channel

),

by_model as (

    {%- for model in attribution_models() %}
    select
        month,
        channel,
        '{{ model }}' as model,
        cast(attributed_pipeline_{{ model }} as double) as attributed_pipeline,
        cast(attributed_revenue_{{ model }} as double) as attributed_revenue,
        opportunities_{{ model }} as opportunities,
        touches_{{ model }} as touches
    from by_month_and_channel
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

final as (

    select * from by_model

)

select * from final
