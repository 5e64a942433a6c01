with source as (

    select * from {{ source('salesforce', 'task') }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as task_id,
        {{ to_text('WhoId') }} as who_id,
        {{ to_text('OwnerId') }} as owner_id,
        {{ to_text('Subject') }} as subject,
        {{ to_text('Type') }} as type,
        {{ to_text('Status') }} as status,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
