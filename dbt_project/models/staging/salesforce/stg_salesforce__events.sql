{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['event_id']) }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'event'), [to_text('Id')], ['event_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as event_id,
        {{ to_text('WhoId') }} as who_id,
        {{ to_text('OwnerId') }} as owner_id,
        {{ to_text('Subject') }} as subject,
        {{ to_text('Type') }} as type,
        {{ salesforce_datetime('StartDateTime') }} as start_date_time,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
