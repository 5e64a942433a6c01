-- Ad spend in the reporting currency: one row per spend date x channel x campaign name x
-- currency, converted at the spend date's rate (spend / ConversionRate of the
-- DatedConversionRate row of the spend currency with StartDate <= date < NextStartDate;
-- rate 1 for the reporting currency, for no currency, or when no rate row covers the date).

with

ad_spend as (

    select * from {{ ref('stg_spend__ad_spend') }}

),

dated_conversion_rates as (

    select * from {{ ref('stg_salesforce__dated_conversion_rates') }}

),

spend_by_day as (

    -- conversion is linear, so rows of one day, campaign and currency convert together
    select
        cast(spend_date as date) as spend_date,
        channel,
        campaign_name,
        nullif(upper(trim(currency)), '') as currency,
        sum(cast(coalesce(spend, 0) as double)) as spend
    from ad_spend
    group by 1, 2, 3, 4

),

usable_rates as (

    select
        upper(trim(iso_code)) as iso_code,
        cast(conversion_rate as double) as conversion_rate,
        start_date,
        next_start_date
    from dated_conversion_rates
    where iso_code is not null
        and start_date is not null
        and conversion_rate > 0

),

rate_of_spend_date as (

    -- should rate rows overlap, the latest StartDate wins (as for opportunities)
    select
        spend_by_day.spend_date,
        spend_by_day.channel,
        spend_by_day.campaign_name,
        spend_by_day.currency,
        usable_rates.conversion_rate
    from spend_by_day
    inner join usable_rates
        on spend_by_day.currency = usable_rates.iso_code
        and usable_rates.start_date <= spend_by_day.spend_date
        and (
            usable_rates.next_start_date is null
            or spend_by_day.spend_date < usable_rates.next_start_date
        )
    qualify row_number() over (
        partition by spend_by_day.spend_date, spend_by_day.channel, spend_by_day.campaign_name,
            spend_by_day.currency
        order by usable_rates.start_date desc
    ) = 1

),

converted as (

    select
        spend_by_day.spend_date,
        spend_by_day.channel,
        spend_by_day.campaign_name,
        spend_by_day.currency,
        spend_by_day.spend,
        case
            when spend_by_day.currency is null
                or spend_by_day.currency = '{{ var("reporting_currency") }}' then cast(1 as double)
            else coalesce(rate_of_spend_date.conversion_rate, cast(1 as double))
        end as conversion_rate
    from spend_by_day
    left join rate_of_spend_date
        on spend_by_day.spend_date = rate_of_spend_date.spend_date
        and spend_by_day.channel is not distinct from rate_of_spend_date.channel
        and spend_by_day.campaign_name is not distinct from rate_of_spend_date.campaign_name
        and spend_by_day.currency is not distinct from rate_of_spend_date.currency

),

final as (

    select
        spend_date,
        channel,
        campaign_name,
        currency,
        spend,
        conversion_rate,
        spend / conversion_rate as spend_reporting
    from converted

)

select * from final
