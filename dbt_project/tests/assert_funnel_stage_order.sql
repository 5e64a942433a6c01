-- Stage order holds for every person (SPEC 3): lead_at <= mql_at <= sal_at,
-- mql_at <= first_response_at, lead_at <= sql_at <= opportunity_at <= won_at / lost_at, and
-- no later stage without lead_at. A person may skip stages. Returns the offending people.

with

funnel as (
    select * from {{ ref('fct_lead_funnel') }}
),

violations as (
    select
        person_id,
        lead_at,
        mql_at,
        first_response_at,
        sal_at,
        sql_at,
        opportunity_at,
        won_at,
        lost_at
    from funnel
    where mql_at < lead_at
       or sal_at < mql_at
       or sal_at < lead_at
       or first_response_at < mql_at
       or sql_at < lead_at
       or opportunity_at < sql_at
       or opportunity_at < lead_at
       or won_at < opportunity_at
       or lost_at < opportunity_at
       or (sal_at is not null and mql_at is null)
       or (won_at is not null and lost_at is not null)
       or ((won_at is not null or lost_at is not null) and opportunity_at is null)
       or (lead_at is null and coalesce(mql_at, sal_at, sql_at, opportunity_at, won_at, lost_at) is not null)
)

select * from violations
