{#- Forms API v2 identifies a form by `guid`, v3 by `id`; form submissions carry it as formGuid. -#}
{%- set form_guid -%}
    coalesce({{ to_text('guid') }}, {{ to_text('id') }})
{%- endset -%}

{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['form_guid'], current_version_by='batch') }}

with source as (

    {{ changed_raw_rows(source('hubspot', 'forms'), [form_guid], ['form_guid']) }}

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
