-- The alignment scorecard: per calendar month (var timezone), the KPIs sales and marketing
-- agreed on, each beside its monthly target (var targets) when one is set.
-- MQL figures over people whose mql_at is in the month; pipeline figures over opportunities
-- created in the month; close figures over opportunities closed (CloseDate) in the month;
-- cost per won = campaign ActualCost by campaign StartDate month plus ad spend by spend date
-- month, over the month's won opportunities.

{%- set targets = var('targets') %}
{%- set metrics = [
    'mqls',
    'sal_rate',
    'sla_met_rate',
    'mql_to_opportunity_rate',
    'marketing_sourced_pipeline_share',
    'influenced_revenue_share',
    'win_rate',
    'cycle_days',
    'cost_per_won',
    'velocity_per_day',
] %}

with

lead_funnel as (

    select * from {{ ref('fct_lead_funnel') }}

),

opportunities as (

    select * from {{ ref('int_marts__opportunities_segmented') }}

),

opportunity_people as (

    select * from {{ ref('int_opportunity_people') }}

),

attribution as (

    select * from {{ ref('fct_attribution') }}

),

campaign_costs as (

    select * from {{ ref('int_marts__campaign_costs') }}

),

ad_spend as (

    select * from {{ ref('int_marts__ad_spend_converted') }}

),

mql_months as (

    select
        {{ local_period('month', 'mql_at') }} as month,
        count(*) as mqls,
        count(sal_at) as mqls_with_sal,
        count(case when sla_met then 1 end) as mqls_sla_met,
        count(opportunity_at) as mqls_with_opportunity
    from lead_funnel
    where mql_at is not null
    group by 1

),

marketing_sourced_opportunities as (

    -- the opportunity's converted lead or primary contact is marketing sourced
    select distinct opportunity_people.opportunity_id
    from opportunity_people
    inner join lead_funnel
        on opportunity_people.person_id = lead_funnel.person_id
    where (opportunity_people.is_converted_lead or opportunity_people.is_primary_contact)
        and lead_funnel.is_marketing_sourced

),

touched_opportunities as (

    select distinct opportunity_id
    from attribution
    where touchpoint_id is not null

),

created_months as (

    select
        opportunities.created_month as month,
        count(*) as opportunities_created,
        sum(opportunities.amount) as pipeline_amount,
        sum(case when marketing_sourced_opportunities.opportunity_id is not null
            then opportunities.amount else 0 end) as marketing_sourced_pipeline_amount,
        count(case when opportunities.is_won then 1 end) as created_won,
        count(case when opportunities.is_lost then 1 end) as created_lost,
        avg(case when opportunities.is_won then opportunities.amount end) as created_avg_won_amount,
        avg(case when opportunities.is_won then opportunities.cycle_days end) as created_avg_cycle_days
    from opportunities
    left join marketing_sourced_opportunities
        on opportunities.opportunity_id = marketing_sourced_opportunities.opportunity_id
    group by 1

),

closed_months as (

    select
        opportunities.close_month as month,
        count(case when opportunities.is_won then 1 end) as won,
        count(case when opportunities.is_lost then 1 end) as lost,
        avg(case when opportunities.is_won then opportunities.cycle_days end) as cycle_days,
        sum(case when opportunities.is_won then opportunities.amount else 0 end) as won_amount,
        sum(case when opportunities.is_won and touched_opportunities.opportunity_id is not null
            then opportunities.amount else 0 end) as influenced_won_amount
    from opportunities
    left join touched_opportunities
        on opportunities.opportunity_id = touched_opportunities.opportunity_id
    where opportunities.is_closed
        and opportunities.close_month is not null
    group by 1

),

costs as (

    select
        {{ date_period('month', 'start_date') }} as month,
        actual_cost as cost
    from campaign_costs
    where start_date is not null

    union all

    select
        {{ date_period('month', 'spend_date') }} as month,
        spend_reporting as cost
    from ad_spend
    where spend_date is not null

),

cost_months as (

    select
        month,
        sum(cost) as cost
    from costs
    group by month

),

months as (

    select month from mql_months
    union
    select month from created_months
    union
    select month from closed_months
    union
    select month from cost_months

),

scorecard as (

    select
        months.month,
        coalesce(mql_months.mqls, 0) as mqls,
        {{ safe_divide('mql_months.mqls_with_sal', 'mql_months.mqls') }} as sal_rate,
        {{ safe_divide('mql_months.mqls_sla_met', 'mql_months.mqls') }} as sla_met_rate,
        {{ safe_divide('mql_months.mqls_with_opportunity', 'mql_months.mqls') }} as mql_to_opportunity_rate,
        {{ safe_divide('created_months.marketing_sourced_pipeline_amount', 'created_months.pipeline_amount') }}
            as marketing_sourced_pipeline_share,
        {{ velocity_per_day(
            'created_months.opportunities_created',
            safe_divide('created_months.created_won', 'created_months.created_won + created_months.created_lost'),
            'created_months.created_avg_won_amount',
            'created_months.created_avg_cycle_days'
        ) }} as velocity_per_day,
        {{ safe_divide('closed_months.won', 'closed_months.won + closed_months.lost') }} as win_rate,
        closed_months.cycle_days,
        {{ safe_divide('closed_months.influenced_won_amount', 'closed_months.won_amount') }}
            as influenced_revenue_share,
        {{ safe_divide('coalesce(cost_months.cost, 0)', 'closed_months.won') }} as cost_per_won,
        coalesce(created_months.opportunities_created, 0) as opportunities_created,
        coalesce(closed_months.won, 0) as won,
        coalesce(closed_months.lost, 0) as lost,
        coalesce(closed_months.won_amount, cast(0 as double)) as won_amount,
        coalesce(cost_months.cost, cast(0 as double)) as cost
    from months
    left join mql_months on months.month = mql_months.month
    left join created_months on months.month = created_months.month
    left join closed_months on months.month = closed_months.month
    left join cost_months on months.month = cost_months.month

),

final as (

    select
        month,
        {%- for metric in metrics %}
        {{ metric }},
        {%- if metric in targets %}
        cast({{ targets[metric] }} as double) as target_{{ metric }},
        {%- endif %}
        {%- endfor %}
        opportunities_created,
        won,
        lost,
        won_amount,
        cost
    from scorecard

)

select * from final
