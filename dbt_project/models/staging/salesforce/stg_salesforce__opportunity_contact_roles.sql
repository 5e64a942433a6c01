{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['opportunity_contact_role_id']) }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'opportunitycontactrole'), [to_text('Id')], ['opportunity_contact_role_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as opportunity_contact_role_id,
        {{ to_text('OpportunityId') }} as opportunity_id,
        {{ to_text('ContactId') }} as contact_id,
        {{ to_text('Role') }} as role,
        {{ to_boolean('IsPrimary') }} as is_primary,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
