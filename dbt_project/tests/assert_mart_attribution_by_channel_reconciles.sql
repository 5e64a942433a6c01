-- For every attribution model, the channels add up to the whole pipeline (every opportunity's
-- amount once) and the whole won revenue, month by month.
with

by_channel as (

    select
        model,
        month,
        sum(attributed_pipeline) as attributed_pipeline,
        sum(attributed_revenue) as attributed_revenue
    from {{ ref('mart_attribution_by_channel') }}
    group by model, month

),

opportunity_totals as (

    select
        {{ local_period('month', 'created_at') }} as month,
        sum(amount_reporting) as pipeline,
        sum(case when is_won then amount_reporting else 0 end) as revenue
    from {{ ref('int_opportunities') }}
    group by 1

),

compared as (

    select
        models.model,
        opportunity_totals.month,
        coalesce(by_channel.attributed_pipeline, 0) as attributed_pipeline,
        opportunity_totals.pipeline,
        coalesce(by_channel.attributed_revenue, 0) as attributed_revenue,
        opportunity_totals.revenue
    from opportunity_totals
    cross join (select distinct model from {{ ref('mart_attribution_by_channel') }}) as models
    left join by_channel
        on by_channel.month = opportunity_totals.month
        and by_channel.model = models.model

)

select *
from compared
where abs(attributed_pipeline - pipeline) > 1e-6 * greatest(abs(pipeline), 1)
    or abs(attributed_revenue - revenue) > 1e-6 * greatest(abs(revenue), 1)
