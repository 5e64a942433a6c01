{#- CRM v3 contacts: `properties` is the property map as JSON text (read as JSON once; text that
    is not JSON reads as no properties). The current version has the greatest updatedAt
    (lastmodifieddate where a record lacks it).
    Speed (issue 9): updatedAt is parsed once per raw row, before the current-version window (not
    inside its ORDER BY and again in the select), and the properties are read with one
    json_extract_string over a list of paths: one JSON parse per row instead of one per property. -#}
{%- set property_names = ['email', 'firstname', 'lastname', 'company', 'jobtitle', 'lifecyclestage', 'hs_lead_status', 'hubspotscore', 'hs_analytics_source', 'hs_analytics_source_data_1', 'hs_analytics_first_timestamp', 'hs_lifecyclestage_marketingqualifiedlead_date', 'salesforceleadid', 'salesforcecontactid', 'createdate', 'lastmodifieddate'] -%}
{%- set property = {} -%}
{%- for name in property_names -%}{%- do property.update({name: '_properties[' ~ loop.index ~ ']'}) -%}{%- endfor -%}

{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['hubspot_contact_id'], current_version_by='updated_at') }}

with source as (

    {{ changed_raw_rows(source('hubspot', 'contacts'), [to_text('id')], ['hubspot_contact_id']) }}

),

parsed as (

    select * replace (try(cast(properties as json)) as properties)
    from source

),

versioned as (

    select
        *,
        coalesce({{ hubspot_timestamp('updatedAt') }},
                 {{ hubspot_timestamp("properties ->> '$.lastmodifieddate'") }}) as _updated_at
    from parsed

),

current_version as (

    select * from versioned
    {{ current_version([to_text('id')], '_updated_at') }}

),

extracted as (

    select
        *,
        json_extract_string(properties, [{% for name in property_names %}'$.{{ name }}'{{ ', ' if not loop.last }}{% endfor %}])
            as _properties
    from current_version

),

final as (

    select
        {{ to_text('id') }} as hubspot_contact_id,
        {{ to_text(property['email']) }} as email,
        {{ to_text(property['firstname']) }} as firstname,
        {{ to_text(property['lastname']) }} as lastname,
        {{ to_text(property['company']) }} as company,
        {{ to_text(property['jobtitle']) }} as jobtitle,
        {{ to_text(property['lifecyclestage']) }} as lifecyclestage,
        {{ to_text(property['hs_lead_status']) }} as hs_lead_status,
        {{ to_double(property['hubspotscore']) }} as hubspotscore,
        {{ to_text(property['hs_analytics_source']) }} as hs_analytics_source,
        {{ to_text(property['hs_analytics_source_data_1']) }} as hs_analytics_source_data_1,
        {{ hubspot_timestamp(property['hs_analytics_first_timestamp']) }} as hs_analytics_first_timestamp,
        {{ hubspot_timestamp(property['hs_lifecyclestage_marketingqualifiedlead_date']) }}
            as hs_lifecyclestage_marketingqualifiedlead_date,
        {{ to_text(property['salesforceleadid']) }} as salesforceleadid,
        {{ to_text(property['salesforcecontactid']) }} as salesforcecontactid,
        {{ hubspot_timestamp(property['createdate']) }} as createdate,
        {{ hubspot_timestamp(property['lastmodifieddate']) }} as lastmodifieddate,
        {{ hubspot_timestamp('createdAt') }} as created_at,
        _updated_at as updated_at,
        coalesce({{ to_boolean('archived') }}, false) as is_archived,
        _loaded_at,
        _batch_id
    from extracted

)

select * from final
