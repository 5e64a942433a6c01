-- Each person's first opportunity: among the non-deleted opportunities the person's lead
-- converted into or the person holds a contact role on, the earliest by CreatedDate (tie:
-- smallest opportunity_id). One row per person with at least one opportunity.

with

opportunity_people as (
    select * from {{ ref('int_opportunity_people') }}
),

opportunities as (
    select * from {{ ref('int_opportunities') }}
),

person_opportunities as (
    select
        opportunity_people.person_id,
        opportunities.opportunity_id,
        opportunities.created_at,
        opportunities.close_date,
        opportunities.is_won,
        opportunities.is_lost,
        opportunities.amount_reporting
    from opportunity_people
    inner join opportunities
        on opportunity_people.opportunity_id = opportunities.opportunity_id
),

final as (
    select
        person_id,
        opportunity_id,
        created_at as opportunity_at,
        close_date,
        coalesce(is_won, false) as is_won,
        coalesce(is_lost, false) as is_lost,
        coalesce(amount_reporting, 0) as amount_reporting
    from person_opportunities
    qualify row_number() over (
        partition by person_id
        order by created_at nulls last, opportunity_id
    ) = 1
)

select * from final
