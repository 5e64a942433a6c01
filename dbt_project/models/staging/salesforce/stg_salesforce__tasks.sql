{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['task_id']) }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'task'), [to_text('Id')], ['task_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as task_id,
        {{ to_text('WhoId') }} as who_id,
        {{ to_text('OwnerId') }} as owner_id,
        {{ to_text('Subject') }} as subject,
        {{ to_text('Type') }} as type,
        {{ to_text('Status') }} as status,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
