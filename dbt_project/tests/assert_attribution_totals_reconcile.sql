-- Attributed totals reconcile with the opportunities (SPEC 3 "Attribution", SPEC 5): every
-- non-deleted opportunity is in fct_attribution, and for every model the attributed pipeline
-- (weight x amount) and attributed revenue (won only) equal the pipeline and won revenue of
-- int_opportunities. Returns one row per failing check.

{%- set models = ['first_touch', 'last_touch', 'linear', 'u_shaped', 'w_shaped', 'time_decay'] %}
{%- set tolerance = var('weight_tolerance', 1e-9) %}

with

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

attribution as (

    select * from {{ ref('fct_attribution') }}

),

opportunity_totals as (

    select
        count(*) as opportunities,
        coalesce(sum(amount_reporting), 0) as pipeline,
        coalesce(sum(case when is_won then amount_reporting else 0 end), 0) as won_revenue
    from opportunities

),

attributed_totals as (

    {%- for model in models %}
    select
        '{{ model }}' as model,
        count(distinct opportunity_id) as opportunities,
        coalesce(sum(weight_{{ model }} * amount), 0) as attributed_pipeline,
        coalesce(sum(case when is_won then weight_{{ model }} * amount else 0 end), 0)
            as attributed_revenue
    from attribution
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

compared as (

    select
        attributed_totals.model,
        attributed_totals.opportunities as attributed_opportunities,
        opportunity_totals.opportunities,
        attributed_totals.attributed_pipeline,
        opportunity_totals.pipeline,
        attributed_totals.attributed_revenue,
        opportunity_totals.won_revenue
    from attributed_totals
    cross join opportunity_totals

),

final as (

    select *
    from compared
    where attributed_opportunities != opportunities
        or abs(attributed_pipeline - pipeline) > {{ tolerance }} * greatest(1, abs(pipeline))
        or abs(attributed_revenue - won_revenue) > {{ tolerance }} * greatest(1, abs(won_revenue))

)

select * from final
