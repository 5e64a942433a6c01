{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['campaign_member_id']) }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'campaignmember'), [to_text('Id')], ['campaign_member_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as campaign_member_id,
        {{ to_text('CampaignId') }} as campaign_id,
        {{ to_text('LeadId') }} as lead_id,
        {{ to_text('ContactId') }} as contact_id,
        {{ to_text('Status') }} as status,
        {{ to_boolean('HasResponded') }} as has_responded,
        {{ to_date('FirstRespondedDate') }} as first_responded_date,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
