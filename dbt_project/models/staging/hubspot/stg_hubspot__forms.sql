{#- Forms API v2 identifies a form by `guid`, v3 by `id`; form submissions carry it as formGuid. -#}
{%- set form_guid -%}
    coalesce({{ to_text('guid') }}, {{ to_text('id') }})
{%- endset -%}

with source as (

    select * from {{ source('hubspot', 'forms') }}

),

current_version as (

    select * from source
    {{ current_version([form_guid]) }}

),

final as (

    select
        {{ form_guid }} as form_guid,
        {{ to_text('name') }} as form_name,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
