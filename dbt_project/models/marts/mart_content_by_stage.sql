-- Content by funnel stage: touches of content campaigns (non-deleted campaigns whose type
-- maps to channel `content` in seed campaign_type_touches: Content, eBook) by the stage the
-- person had reached at the touch: the last of lead, mql, sal, sql, opportunity, customer
-- (won) whose timestamp is <= touched_at. Opportunities influenced = distinct opportunities
-- whose fct_attribution holds one of the touches; win_rate = won / (won + lost) of those.

{%- set stages = [
    ('customer', 'won_at'),
    ('opportunity', 'opportunity_at'),
    ('sql', 'sql_at'),
    ('sal', 'sal_at'),
    ('mql', 'mql_at'),
    ('lead', 'lead_at'),
] %}

with

campaigns as (

    select * from {{ ref('stg_salesforce__campaigns') }}

),

campaign_type_touches as (

    select * from {{ ref('campaign_type_touches') }}

),

touchpoints as (

    select * from {{ ref('int_touchpoints') }}

),

lead_funnel as (

    select * from {{ ref('fct_lead_funnel') }}

),

attribution as (

    select * from {{ ref('fct_attribution') }}

),

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

content_campaigns as (

    select
        campaigns.campaign_id,
        campaigns.name as campaign_name
    from campaigns
    inner join campaign_type_touches
        on lower(trim(campaigns.type)) = lower(trim(campaign_type_touches.campaign_type))
    where campaign_type_touches.channel = 'content'
        and not coalesce(campaigns.is_deleted, false)

),

content_touches as (

    select
        content_campaigns.campaign_id,
        content_campaigns.campaign_name,
        touchpoints.touchpoint_id,
        touchpoints.person_id,
        -- the furthest stage reached at the touch; a touch is never before lead_at
        case
            {%- for stage, stage_at in stages %}
            when lead_funnel.{{ stage_at }} <= touchpoints.touched_at then '{{ stage }}'
            {%- endfor %}
            else 'lead'
        end as stage
    from touchpoints
    inner join content_campaigns
        on touchpoints.campaign_id = content_campaigns.campaign_id
    left join lead_funnel
        on touchpoints.person_id = lead_funnel.person_id

),

touch_counts as (

    select
        campaign_id,
        campaign_name,
        stage,
        count(*) as touches,
        count(distinct person_id) as people
    from content_touches
    group by campaign_id, campaign_name, stage

),

influenced_opportunities as (

    select distinct
        content_touches.campaign_id,
        content_touches.stage,
        opportunities.opportunity_id,
        opportunities.is_won,
        opportunities.is_lost
    from content_touches
    inner join attribution
        on content_touches.touchpoint_id = attribution.touchpoint_id
    inner join opportunities
        on attribution.opportunity_id = opportunities.opportunity_id

),

influence_counts as (

    select
        campaign_id,
        stage,
        count(*) as opportunities_influenced,
        count(case when is_won then 1 end) as won,
        count(case when is_lost then 1 end) as lost
    from influenced_opportunities
    group by campaign_id, stage

),

final as (

    select
        touch_counts.campaign_id,
        touch_counts.campaign_name,
        touch_counts.stage,
        touch_counts.touches,
        touch_counts.people,
        coalesce(influence_counts.opportunities_influenced, 0) as opportunities_influenced,
        coalesce(influence_counts.won, 0) as won,
        coalesce(influence_counts.lost, 0) as lost,
        {{ safe_divide('influence_counts.won', 'influence_counts.won + influence_counts.lost') }}
            as win_rate
    from touch_counts
    left join influence_counts
        on touch_counts.campaign_id = influence_counts.campaign_id
        and touch_counts.stage = influence_counts.stage

)

select * from final
