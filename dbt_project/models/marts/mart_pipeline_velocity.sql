-- Pipeline velocity: opportunities by the calendar month of CreatedDate (var timezone) and
-- the segment of their account's employees (var segments). win_rate = won / (won + lost);
-- avg_won_amount and avg_cycle_days (exact days CreatedDate to CloseDate) over won ones;
-- velocity_per_day = opportunities x win_rate x avg_won_amount / avg_cycle_days.

with

opportunities as (

    select * from {{ ref('int_marts__opportunities_segmented') }}

),

monthly as (

    select
        created_month as month,
        segment,
        count(*) as opportunities,
        count(case when is_won then 1 end) as won,
        count(case when is_lost then 1 end) as lost,
        avg(case when is_won then amount end) as avg_won_amount,
        avg(case when is_won then cycle_days end) as avg_cycle_days
    from opportunities
    group by created_month, segment

),

with_win_rate as (

    select
        *,
        {{ safe_divide('won', 'won + lost') }} as win_rate
    from monthly

),

final as (

    select
        month,
        segment,
        opportunities,
        won,
        lost,
        win_rate,
        avg_won_amount,
        avg_cycle_days,
        {{ velocity_per_day('opportunities', 'win_rate', 'avg_won_amount', 'avg_cycle_days') }}
            as velocity_per_day
    from with_win_rate

)

select * from final
