with source as (

    select * from {{ source('hubspot', 'marketing_emails') }}

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
