{#- Email events are immutable: a re-extracted event keeps the version from the latest batch.
    recipient_normalized (the identity key the touchpoints match on) came later: a warehouse built
    before it gains the column (append_new_columns), empty for its old rows. -#}
{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='append_new_columns',
          unique_key=['email_event_id'], current_version_by='batch') }}

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
        {{ normalize_email(to_text('recipient')) }} as recipient_normalized,
        {{ hubspot_timestamp('created') }} as created_at,
        {{ to_text('emailCampaignId') }} as email_campaign_id,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
