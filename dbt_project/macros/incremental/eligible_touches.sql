{#- SPEC 3 "Attribution": the eligible touches of each opportunity, positioned. Shared by the
    int_attribution__eligible_touches view (whole models) and fct_attribution (the affected
    opportunities only, when it builds incrementally). -#}

{% macro eligible_touches(opportunities, opportunity_people, touchpoints) -%}
{%- set attribution = var('attribution') %}
{%- set lookback_seconds = attribution['lookback_days'] * 86400 %}
{%- set excluded_types = attribution['exclude_touch_types'] %}

with

eligible_crediting_touchpoints as (

    -- excluded touch types never take credit: no row, and they do not count in n
    select *
    from {{ touchpoints }}
    {%- if excluded_types | length > 0 %}
    where touch_type is null
        or touch_type not in (
            {%- for touch_type in excluded_types %}
            '{{ touch_type }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
    {%- endif %}

),

eligible_touches_in_window as (

    select
        opportunities.opportunity_id,
        opportunities.created_at as opportunity_created_at,
        crediting_touchpoints.touchpoint_id,
        crediting_touchpoints.person_id,
        crediting_touchpoints.campaign_id,
        crediting_touchpoints.channel,
        crediting_touchpoints.touch_type,
        crediting_touchpoints.touched_at
    from {{ opportunities }} as opportunities
    inner join {{ opportunity_people }} as opportunity_people
        on opportunities.opportunity_id = opportunity_people.opportunity_id
    inner join eligible_crediting_touchpoints as crediting_touchpoints
        on opportunity_people.person_id = crediting_touchpoints.person_id
    where crediting_touchpoints.touched_at <= opportunities.created_at
        and crediting_touchpoints.touched_at
            >= {{ dbt.dateadd('second', -lookback_seconds, 'opportunities.created_at') }}

),

eligible_one_row_per_touch as (

    -- a touch counts once per opportunity, however its person reaches the opportunity
    select *
    from eligible_touches_in_window
    qualify row_number() over (
        partition by opportunity_id, touchpoint_id
        order by person_id
    ) = 1

),

eligible_positioned as (

    select
        opportunity_id,
        touchpoint_id,
        person_id,
        campaign_id,
        channel,
        touch_type,
        touched_at,
        opportunity_created_at,
        row_number() over (
            partition by opportunity_id
            order by touched_at, touchpoint_id
        ) as position,
        count(*) over (partition by opportunity_id) as touch_count,
        -- exact days: microseconds between the touch and the opportunity's creation / 86400 s
        {{ dbt.datediff('touched_at', 'opportunity_created_at', 'microsecond') }}
            / cast(86400000000 as double) as days_before_opportunity
    from eligible_one_row_per_touch

)

select * from eligible_positioned
{%- endmacro %}
