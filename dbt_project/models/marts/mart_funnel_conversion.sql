-- Funnel conversion by cohort: people grouped by the calendar month of their lead_at (var
-- timezone) and their first channel. Stage counts are people with that stage's timestamp;
-- each rate is people with both stages / people with the earlier one (null when 0); medians
-- are exact days between the two stages over people with both. Won revenue counts each won
-- opportunity once, in the row of its person with the earliest lead_at (ties by person_id).

{%- set steps = [
    ('lead', 'mql', 'leads'),
    ('mql', 'sal', 'mqls'),
    ('sal', 'sql', 'sals'),
    ('sql', 'opportunity', 'sqls'),
    ('opportunity', 'won', 'opportunities'),
] %}

with

lead_funnel as (

    select * from {{ ref('fct_lead_funnel') }}

),

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

opportunity_people as (

    select * from {{ ref('int_opportunity_people') }}

),

cohort_people as (

    -- people without lead_at have no cohort and are left out
    select
        {{ local_period('month', 'lead_at') }} as cohort_month,
        first_channel,
        person_id,
        lead_at,
        mql_at,
        sal_at,
        sql_at,
        opportunity_at,
        won_at
    from lead_funnel
    where lead_at is not null

),

won_opportunity_people as (

    select
        opportunities.opportunity_id,
        opportunities.amount_reporting,
        cohort_people.cohort_month,
        cohort_people.first_channel,
        cohort_people.person_id,
        cohort_people.lead_at
    from opportunities
    inner join opportunity_people
        on opportunities.opportunity_id = opportunity_people.opportunity_id
    inner join cohort_people
        on opportunity_people.person_id = cohort_people.person_id
    where opportunities.is_won

),

won_opportunity_cohorts as (

    -- each won opportunity once: in the cohort of its person with the earliest lead_at
    select
        opportunity_id,
        amount_reporting,
        cohort_month,
        first_channel
    from won_opportunity_people
    qualify row_number() over (
        partition by opportunity_id
        order by lead_at, person_id
    ) = 1

),

won_revenue_by_cohort as (

    select
        cohort_month,
        first_channel,
        sum(amount_reporting) as won_revenue
    from won_opportunity_cohorts
    group by cohort_month, first_channel

),

stage_counts as (

    select
        cohort_month,
        first_channel,
        count(lead_at) as leads,
        count(mql_at) as mqls,
        count(sal_at) as sals,
        count(sql_at) as sqls,
        count(opportunity_at) as opportunities,
        count(won_at) as won,
        {%- for earlier, later, people_at_earlier in steps %}
        count(case when {{ earlier }}_at is not null and {{ later }}_at is not null then 1 end)
            as {{ earlier }}_and_{{ later }},
        {{ percentile_cont(
            'case when ' ~ earlier ~ '_at is not null and ' ~ later ~ '_at is not null then '
                ~ days_between(earlier ~ '_at', later ~ '_at') ~ ' end',
            0.5,
        ) }} as median_days_{{ earlier }}_to_{{ later }}{{ ',' if not loop.last }}
        {%- endfor %}
    from cohort_people
    group by cohort_month, first_channel

),

final as (

    select
        stage_counts.cohort_month,
        stage_counts.first_channel,
        stage_counts.leads,
        stage_counts.mqls,
        stage_counts.sals,
        stage_counts.sqls,
        stage_counts.opportunities,
        stage_counts.won,
        coalesce(won_revenue_by_cohort.won_revenue, cast(0 as double)) as won_revenue,
        {%- for earlier, later, people_at_earlier in steps %}
        {{ safe_divide('stage_counts.' ~ earlier ~ '_and_' ~ later, 'stage_counts.' ~ people_at_earlier) }}
            as {{ earlier }}_to_{{ later }},
        {%- endfor %}
        {%- for earlier, later, people_at_earlier in steps %}
        stage_counts.median_days_{{ earlier }}_to_{{ later }}{{ ',' if not loop.last }}
        {%- endfor %}
    from stage_counts
    left join won_revenue_by_cohort
        on stage_counts.cohort_month = won_revenue_by_cohort.cohort_month
        and stage_counts.first_channel is not distinct from won_revenue_by_cohort.first_channel

)

select * from final
