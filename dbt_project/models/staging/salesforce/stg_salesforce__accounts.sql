{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['account_id'], current_version_by='system_modstamp') }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'account'), [to_text('Id')], ['account_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as account_id,
        {{ to_text('Name') }} as name,
        {{ to_text('Website') }} as website,
        {{ to_text('Industry') }} as industry,
        {{ to_bigint('NumberOfEmployees') }} as number_of_employees,
        {{ to_text('BillingCountry') }} as billing_country,
        {{ to_text('OwnerId') }} as owner_id,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        {{ salesforce_datetime('SystemModstamp') }} as system_modstamp,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
