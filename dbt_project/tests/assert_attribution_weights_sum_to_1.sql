-- Every model's weights sum to 1 per opportunity (SPEC 3 "Attribution"), within floating
-- point tolerance. Returns the offending (opportunity, model) pairs.

{%- set models = ['first_touch', 'last_touch', 'linear', 'u_shaped', 'w_shaped', 'time_decay'] %}
{%- set tolerance = var('weight_tolerance', 1e-9) %}

with

attribution as (

    select * from {{ ref('fct_attribution') }}

),

totals as (

    {%- for model in models %}
    select opportunity_id, '{{ model }}' as model, sum(weight_{{ model }}) as total_weight
    from attribution
    group by opportunity_id
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

final as (

    select *
    from totals
    where total_weight is null or abs(total_weight - 1) > {{ tolerance }}

)

select * from final
