{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['contact_id'], current_version_by='system_modstamp') }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'contact'), [to_text('Id')], ['contact_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as contact_id,
        {{ to_text('AccountId') }} as account_id,
        {{ to_text('Email') }} as email,
        {{ to_text('Title') }} as title,
        {{ to_text('LeadSource') }} as lead_source,
        {{ to_text('OwnerId') }} as owner_id,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        {{ salesforce_datetime('SystemModstamp') }} as system_modstamp,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
