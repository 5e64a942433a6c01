-- Every non-deleted opportunity with what the velocity figures need: its created and closed
-- calendar months (var timezone), its account's segment (var segments) and its exact cycle
-- in days from CreatedDate to CloseDate.

with

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

accounts as (

    select * from {{ ref('stg_salesforce__accounts') }}

),

current_accounts as (

    select
        account_id,
        number_of_employees
    from accounts
    where not coalesce(is_deleted, false)

),

with_account as (

    select
        opportunities.*,
        current_accounts.number_of_employees as employees
    from opportunities
    left join current_accounts
        on opportunities.account_id = current_accounts.account_id

),

final as (

    select
        opportunity_id,
        account_id,
        owner_id,
        created_at,
        {{ local_period('month', 'created_at') }} as created_month,
        close_date,
        close_at,
        {{ date_period('month', 'close_date') }} as close_month,
        is_closed,
        is_won,
        is_lost,
        amount_reporting as amount,
        employees,
        {{ segment_of('employees') }} as segment,
        -- CloseDate is read as the start of its day in UTC; a close on the creation day
        -- counts from creation, so a cycle is never negative (and unknown without a CloseDate)
        case
            when close_at is not null
                then greatest({{ days_between('created_at', 'close_at') }}, cast(0 as double))
        end as cycle_days
    from with_account

)

select * from final
