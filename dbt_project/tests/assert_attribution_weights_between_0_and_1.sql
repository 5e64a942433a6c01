-- Every attribution weight is a share in [0, 1] (SPEC 5). Returns the offending rows.

{%- set models = ['first_touch', 'last_touch', 'linear', 'u_shaped', 'w_shaped', 'time_decay'] %}

with

attribution as (

    select * from {{ ref('fct_attribution') }}

),

weights as (

    {%- for model in models %}
    select opportunity_id, touchpoint_id, '{{ model }}' as model, weight_{{ model }} as weight
    from attribution
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

final as (

    select *
    from weights
    where weight is null or isnan(weight) or weight < 0 or weight > 1

)

select * from final
