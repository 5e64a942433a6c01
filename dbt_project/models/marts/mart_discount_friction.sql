-- Discount friction: closed opportunities with (non-deleted) line items, by the calendar
-- month of CloseDate and the opportunity owner. discount_pct per deal =
-- 100 x (1 - sum(TotalPrice) / sum(ListPrice x Quantity)); deals over the pricing guideline
-- (var pricing.max_discount_pct); win rate = won / (won + lost) per discount band.

{%- set max_discount_pct = var('pricing')['max_discount_pct'] %}
{#- the first band's upper edge is fixed by SPEC 4.1 (win_rate_up_to_10) #}
{%- set first_band_pct = 10 %}

with

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

line_items as (

    select * from {{ ref('stg_salesforce__opportunity_line_items') }}

),

deal_prices as (

    select
        opportunity_id,
        sum(cast(total_price as double)) as total_price,
        sum(cast(list_price as double) * cast(quantity as double)) as list_value
    from line_items
    where not coalesce(is_deleted, false)
    group by opportunity_id

),

deals as (

    select
        {{ date_period('month', 'opportunities.close_date') }} as month,
        opportunities.owner_id,
        opportunities.opportunity_id,
        opportunities.is_won,
        opportunities.is_lost,
        -- 100 x (1 - total / list), written as 100 x (list - total) / list to keep whole
        -- percentages exact in floating point
        {{ safe_divide('100 * (deal_prices.list_value - deal_prices.total_price)', 'deal_prices.list_value') }}
            as discount_pct
    from opportunities
    inner join deal_prices
        on opportunities.opportunity_id = deal_prices.opportunity_id
    where opportunities.is_closed

),

banded as (

    -- bands compare the discount rounded to 1e-9 points, so floating-point noise never moves
    -- a deal sold exactly at a band edge
    select
        *,
        round(discount_pct, 9) > {{ max_discount_pct }} as is_over_guideline,
        case
            when round(discount_pct, 9) <= {{ first_band_pct }} then 'up_to_10'
            when round(discount_pct, 9) <= {{ max_discount_pct }} then '10_to_max'
            when round(discount_pct, 9) > {{ max_discount_pct }} then 'over_max'
        end as discount_band
    from deals

),

monthly as (

    select
        month,
        owner_id,
        count(*) as deals,
        count(case when is_won then 1 end) as won,
        avg(discount_pct) as avg_discount_pct,
        count(case when is_over_guideline then 1 end) as deals_over_guideline,
        {%- for band in ['up_to_10', '10_to_max', 'over_max'] %}
        count(case when discount_band = '{{ band }}' then 1 end) as deals_{{ band }},
        count(case when discount_band = '{{ band }}' and is_won then 1 end) as won_{{ band }},
        count(case when discount_band = '{{ band }}' and is_lost then 1 end) as lost_{{ band }}{{ ',' if not loop.last }}
        {%- endfor %}
    from banded
    group by month, owner_id

),

final as (

    select
        month,
        owner_id,
        deals,
        won,
        avg_discount_pct,
        deals_over_guideline,
        {%- for band in ['up_to_10', '10_to_max', 'over_max'] %}
        deals_{{ band }},
        {%- endfor %}
        {%- for band in ['up_to_10', '10_to_max', 'over_max'] %}
        {{ safe_divide('won_' ~ band, 'won_' ~ band ~ ' + lost_' ~ band) }} as win_rate_{{ band }}{{ ',' if not loop.last }}
        {%- endfor %}
    from monthly

)

select * from final
