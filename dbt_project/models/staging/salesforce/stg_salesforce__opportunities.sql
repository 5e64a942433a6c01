{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['opportunity_id'], current_version_by='system_modstamp') }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'opportunity'), [to_text('Id')], ['opportunity_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as opportunity_id,
        {{ to_text('AccountId') }} as account_id,
        {{ to_text('Name') }} as name,
        {{ to_text('StageName') }} as stage_name,
        {{ to_double('Amount') }} as amount,
        {{ to_text('CurrencyIsoCode') }} as currency_iso_code,
        {{ to_date('CloseDate') }} as close_date,
        {{ to_boolean('IsClosed') }} as is_closed,
        {{ to_boolean('IsWon') }} as is_won,
        {{ to_text('LeadSource') }} as lead_source,
        {{ to_text('CampaignId') }} as campaign_id,
        {{ to_text('Type') }} as type,
        {{ to_text('OwnerId') }} as owner_id,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        {{ salesforce_datetime('SystemModstamp') }} as system_modstamp,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
