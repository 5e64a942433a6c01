{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['marketing_email_id'], current_version_by='batch') }}

with source as (

    {{ changed_raw_rows(source('hubspot', 'marketing_emails'), [to_text('id')], ['marketing_email_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('id')]) }}

),

final as (

    select
        {{ to_text('id') }} as marketing_email_id,
        {{ to_text('name') }} as email_name,
        {{ to_text('campaign') }} as campaign,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
