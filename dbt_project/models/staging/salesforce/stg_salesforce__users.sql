{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['user_id']) }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'user'), [to_text('Id')], ['user_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as user_id,
        {{ to_text('Name') }} as name,
        {{ to_text('Email') }} as email,
        {{ to_text('Department') }} as department,
        {{ to_boolean('IsActive') }} as is_active,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
