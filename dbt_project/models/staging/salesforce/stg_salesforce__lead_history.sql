{#- LeadHistory rows have no SystemModstamp: the version from the latest batch wins. -#}
{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['lead_history_id'], current_version_by='batch') }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'leadhistory'), [to_text('Id')], ['lead_history_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')]) }}

),

final as (

    select
        {{ to_text('Id') }} as lead_history_id,
        {{ to_text('LeadId') }} as lead_id,
        {{ to_text('Field') }} as field,
        {{ to_text('OldValue') }} as old_value,
        {{ to_text('NewValue') }} as new_value,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
