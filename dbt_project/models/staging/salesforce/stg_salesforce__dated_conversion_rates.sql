{#- A rate is identified by its currency and start date (its Id is not needed downstream). -#}
with source as (

    select * from {{ source('salesforce', 'datedconversionrate') }}

),

current_version as (

    select * from source
    {{ current_version([to_text('IsoCode'), to_date('StartDate')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('IsoCode') }} as iso_code,
        {{ to_double('ConversionRate') }} as conversion_rate,
        {{ to_date('StartDate') }} as start_date,
        {{ to_date('NextStartDate') }} as next_start_date,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
