{#- One row per day, channel, campaign and currency; a re-delivered day keeps the latest batch's figure. -#}
with source as (

    select * from {{ source('spend', 'ad_spend') }}

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
