{#- Email events are immutable: a re-extracted event keeps the version from the latest batch. -#}
{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['email_event_id']) }}

with source as (

    {{ changed_raw_rows(source('hubspot', 'email_events'), [to_text('id')], ['email_event_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('id')]) }}

),

final as (

    select
        {{ to_text('id') }} as email_event_id,
        {{ to_text('type') }} as event_type,
        {{ to_text('recipient') }} as recipient,
        {{ hubspot_timestamp('created') }} as created_at,
        {{ to_text('emailCampaignId') }} as email_campaign_id,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
