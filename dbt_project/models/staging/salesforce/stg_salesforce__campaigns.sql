{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['campaign_id']) }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'campaign'), [to_text('Id')], ['campaign_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as campaign_id,
        {{ to_text('Name') }} as name,
        {{ to_text('Type') }} as type,
        {{ to_date('StartDate') }} as start_date,
        {{ to_date('EndDate') }} as end_date,
        {{ to_double('BudgetedCost') }} as budgeted_cost,
        {{ to_double('ActualCost') }} as actual_cost,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
