{#- A rate is identified by its currency and start date (its Id is not needed downstream). -#}
{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['iso_code', 'start_date']) }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'datedconversionrate'), [to_text('IsoCode'), to_date('StartDate')], ['iso_code', 'start_date']) }}

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
