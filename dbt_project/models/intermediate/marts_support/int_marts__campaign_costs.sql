-- The cost of every non-deleted Salesforce campaign in the reporting currency:
-- Campaign.ActualCost (0 when empty) plus the ad spend rows whose campaign_name equals the
-- campaign's Name, each converted at its spend date's rate.

with

campaigns as (

    select * from {{ ref('stg_salesforce__campaigns') }}

),

ad_spend as (

    select * from {{ ref('int_marts__ad_spend_converted') }}

),

current_campaigns as (

    select *
    from campaigns
    where not coalesce(is_deleted, false)

),

ad_spend_by_campaign_name as (

    select
        campaign_name,
        sum(spend_reporting) as ad_spend
    from ad_spend
    where campaign_name is not null
    group by campaign_name

),

final as (

    select
        current_campaigns.campaign_id,
        current_campaigns.name as campaign_name,
        current_campaigns.type as campaign_type,
        current_campaigns.start_date,
        cast(coalesce(current_campaigns.actual_cost, 0) as double) as actual_cost,
        coalesce(ad_spend_by_campaign_name.ad_spend, cast(0 as double)) as ad_spend,
        cast(coalesce(current_campaigns.actual_cost, 0) as double)
            + coalesce(ad_spend_by_campaign_name.ad_spend, cast(0 as double)) as cost
    from current_campaigns
    left join ad_spend_by_campaign_name
        on current_campaigns.name = ad_spend_by_campaign_name.campaign_name

)

select * from final
