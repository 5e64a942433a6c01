{#- LeadHistory rows have no SystemModstamp: the version from the latest batch wins. -#}
with source as (

    select * from {{ source('salesforce', 'leadhistory') }}

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
