-- One row per non-deleted opportunity, with its amount converted to the reporting currency
-- (SPEC 3 "Attribution": Amount / ConversionRate of the DatedConversionRate row of the
-- opportunity's CurrencyIsoCode with StartDate <= CloseDate < NextStartDate).

with

opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}

),

dated_conversion_rates as (

    select * from {{ ref('stg_salesforce__dated_conversion_rates') }}

),

current_opportunities as (

    select *
    from opportunities
    where not coalesce(is_deleted, false)

),

usable_rates as (

    -- a rate that is missing or not positive cannot convert anything
    select
        upper(trim(iso_code)) as iso_code,
        conversion_rate,
        start_date,
        next_start_date
    from dated_conversion_rates
    where iso_code is not null
        and start_date is not null
        and conversion_rate > 0

),

rate_of_close_date as (

    -- the rate row whose [StartDate, NextStartDate) holds the CloseDate (open-ended when
    -- NextStartDate is null); should rows overlap, the latest StartDate wins
    select
        current_opportunities.opportunity_id,
        usable_rates.conversion_rate
    from current_opportunities
    inner join usable_rates
        on upper(trim(current_opportunities.currency_iso_code)) = usable_rates.iso_code
        and usable_rates.start_date <= current_opportunities.close_date
        and (
            usable_rates.next_start_date is null
            or current_opportunities.close_date < usable_rates.next_start_date
        )
    qualify row_number() over (
        partition by current_opportunities.opportunity_id
        order by usable_rates.start_date desc
    ) = 1

),

converted as (

    select
        current_opportunities.opportunity_id,
        current_opportunities.account_id,
        current_opportunities.owner_id,
        current_opportunities.name,
        current_opportunities.stage_name,
        current_opportunities.type,
        current_opportunities.lead_source,
        current_opportunities.campaign_id,
        current_opportunities.created_date as created_at,
        current_opportunities.close_date,
        cast(current_opportunities.close_date as timestamp) as close_at,
        -- a won opportunity is closed even where the export lacks IsClosed
        coalesce(current_opportunities.is_closed, false)
            or coalesce(current_opportunities.is_won, false) as is_closed,
        coalesce(current_opportunities.is_won, false) as is_won,
        coalesce(current_opportunities.is_closed, false)
            and not coalesce(current_opportunities.is_won, false) as is_lost,
        current_opportunities.currency_iso_code,
        cast(coalesce(current_opportunities.amount, 0) as double) as amount,
        (
            current_opportunities.currency_iso_code is null
            or upper(trim(current_opportunities.currency_iso_code)) = upper('{{ var("reporting_currency") }}')
        ) as is_reporting_currency,
        rate_of_close_date.conversion_rate as matched_conversion_rate
    from current_opportunities
    left join rate_of_close_date
        on current_opportunities.opportunity_id = rate_of_close_date.opportunity_id

),

with_rate as (

    -- rate 1 for the reporting currency, for no currency (single-currency org) and, as a
    -- visible fallback (has_conversion_rate = false), for a foreign currency without a rate row
    select
        *,
        case
            when is_reporting_currency then cast(1 as double)
            else coalesce(cast(matched_conversion_rate as double), cast(1 as double))
        end as conversion_rate,
        is_reporting_currency or matched_conversion_rate is not null as has_conversion_rate
    from converted

),

final as (

    select
        opportunity_id,
        account_id,
        owner_id,
        name,
        stage_name,
        type,
        lead_source,
        campaign_id,
        created_at,
        close_date,
        close_at,
        is_closed,
        is_won,
        is_lost,
        currency_iso_code,
        amount,
        conversion_rate,
        has_conversion_rate,
        amount / conversion_rate as amount_reporting
    from with_rate

)

select * from final
