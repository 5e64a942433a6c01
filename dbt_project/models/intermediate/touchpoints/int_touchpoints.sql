-- Every touchpoint of every person, one row per touchpoint_id: HubSpot first visits, form
-- submissions and email events, and Salesforce campaign responses, each with the points
-- alignment.yml gives its touch type (mql.points). Ties in time are ordered by touchpoint_id.

{%- set points = var('mql')['points'] %}

with

hubspot_visits as (
    select * from {{ ref('int_touchpoints__hubspot_visits') }}
),

hubspot_form_submissions as (
    select * from {{ ref('int_touchpoints__hubspot_form_submissions') }}
),

hubspot_email_events as (
    select * from {{ ref('int_touchpoints__hubspot_email_events') }}
),

campaign_members as (
    select * from {{ ref('int_touchpoints__campaign_members') }}
),

unioned as (
    select *, 'hubspot' as source_system from hubspot_visits
    union all
    select *, 'hubspot' as source_system from hubspot_form_submissions
    union all
    select *, 'hubspot' as source_system from hubspot_email_events
    union all
    select *, 'salesforce' as source_system from campaign_members
),

scored as (
    select
        touchpoint_id,
        person_id,
        touched_at,
        touch_type,
        channel,
        campaign_id,
        source_system,
        cast(case touch_type
            {%- for touch_type, value in points.items() %}
            when '{{ touch_type }}' then {{ value }}
            {%- endfor %}
            else 0
        end as double) as points
    from unioned
),

final as (
    select * from scored
)

select * from final
