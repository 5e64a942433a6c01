-- Lead quality by the calendar month of lead_at (var timezone) and first channel: MQLs,
-- accepted (sal_at), disqualified with the top three reasons, recycled, and the definition
-- agreement rate: of the people that the agreed rule (mql_at) or the marketing tool (HubSpot
-- hs_lifecyclestage_marketingqualifiedlead_date) makes an MQL, the share where both do on the
-- same calendar day (var timezone).

{%- set top_reason_count = 3 %}

with

lead_funnel as (

    select * from {{ ref('fct_lead_funnel') }}

),

person_keys as (

    select * from {{ ref('int_person_keys') }}

),

hubspot_contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

hubspot_mql_dates as (

    -- the marketing tool's MQL date of a person: the earliest over their HubSpot contacts
    select
        person_keys.person_id,
        min(hubspot_contacts.hs_lifecyclestage_marketingqualifiedlead_date) as hubspot_mql_at
    from person_keys
    inner join hubspot_contacts
        on person_keys.record_type = 'hubspot_contact'
        and person_keys.record_id = hubspot_contacts.hubspot_contact_id
    where not coalesce(hubspot_contacts.is_archived, false)
    group by person_keys.person_id

),

cohort_people as (

    select
        {{ local_period('month', 'lead_funnel.lead_at') }} as month,
        lead_funnel.first_channel,
        lead_funnel.person_id,
        lead_funnel.mql_at,
        lead_funnel.sal_at,
        lead_funnel.disqualified_at,
        lead_funnel.disqualification_reason,
        lead_funnel.recycled_count,
        hubspot_mql_dates.hubspot_mql_at,
        lead_funnel.mql_at is not null or hubspot_mql_dates.hubspot_mql_at is not null
            as is_mql_by_either,
        coalesce(
            {{ local_period('day', 'lead_funnel.mql_at') }}
                = {{ local_period('day', 'hubspot_mql_dates.hubspot_mql_at') }},
            false
        ) as is_mql_by_both_same_day
    from lead_funnel
    left join hubspot_mql_dates
        on lead_funnel.person_id = hubspot_mql_dates.person_id
    where lead_funnel.lead_at is not null

),

reason_counts as (

    select
        month,
        first_channel,
        disqualification_reason,
        count(*) as people
    from cohort_people
    where disqualified_at is not null
        and disqualification_reason is not null
    group by month, first_channel, disqualification_reason

),

ranked_reasons as (

    -- most frequent first, ties by reason text
    select
        *,
        row_number() over (
            partition by month, first_channel
            order by people desc, disqualification_reason
        ) as reason_rank
    from reason_counts

),

top_reasons as (

    select
        month,
        first_channel,
        {{ dbt.listagg(
            dbt.concat(['disqualification_reason', "' ('", 'cast(people as ' ~ dbt.type_string() ~ ')', "')'"]),
            "'; '",
            'order by reason_rank',
        ) }} as top_reasons
    from ranked_reasons
    where reason_rank <= {{ top_reason_count }}
    group by month, first_channel

),

monthly as (

    select
        month,
        first_channel,
        count(*) as leads,
        count(mql_at) as mqls,
        count(sal_at) as accepted,
        count(disqualified_at) as disqualified,
        count(case when recycled_count > 0 then 1 end) as recycled,
        count(case when is_mql_by_either then 1 end) as mqls_by_either_definition,
        count(case when is_mql_by_both_same_day then 1 end) as mqls_by_both_same_day
    from cohort_people
    group by month, first_channel

),

final as (

    select
        monthly.month,
        monthly.first_channel,
        monthly.leads,
        monthly.mqls,
        monthly.accepted,
        monthly.disqualified,
        top_reasons.top_reasons,
        monthly.recycled,
        monthly.mqls_by_either_definition,
        monthly.mqls_by_both_same_day,
        {{ safe_divide('monthly.mqls_by_both_same_day', 'monthly.mqls_by_either_definition') }}
            as definition_agreement_rate
    from monthly
    left join top_reasons
        on monthly.month = top_reasons.month
        and monthly.first_channel is not distinct from top_reasons.first_channel

)

select * from final
