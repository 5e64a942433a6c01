with source as (

    select * from {{ source('salesforce', 'user') }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as user_id,
        {{ to_text('Name') }} as name,
        {{ to_text('Email') }} as email,
        {{ to_text('Department') }} as department,
        {{ to_boolean('IsActive') }} as is_active,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
