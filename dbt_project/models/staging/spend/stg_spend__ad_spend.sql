{#- One row per day, channel, campaign and currency; a re-delivered day keeps the latest batch's figure. -#}
{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['spend_date', 'channel', 'campaign_name', 'currency'], current_version_by='batch') }}

with source as (

    {{ changed_raw_rows(source('spend', 'ad_spend'), [to_date('"date"'), to_text('channel'), to_text('campaign_name'), to_text('currency')], ['spend_date', 'channel', 'campaign_name', 'currency']) }}

),

current_version as (

    select * from source
    {{ current_version([to_date('"date"'), to_text('channel'), to_text('campaign_name'), to_text('currency')]) }}

),

final as (

    select
        {{ to_date('"date"') }} as spend_date,
        {{ to_text('channel') }} as channel,
        {{ to_text('campaign_name') }} as campaign_name,
        {{ to_double('spend') }} as spend,
        {{ to_text('currency') }} as currency,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
