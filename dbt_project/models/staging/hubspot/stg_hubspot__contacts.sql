{#- CRM v3 contacts: `properties` is the property map as JSON text (read as JSON once; text that
    is not JSON reads as no properties). The current version has the greatest updatedAt
    (lastmodifieddate where a record lacks it). -#}
{%- set updated_at -%}
    coalesce({{ hubspot_timestamp('updatedAt') }}, {{ hubspot_timestamp("properties ->> '$.lastmodifieddate'") }})
{%- endset -%}

{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['hubspot_contact_id']) }}

with source as (

    {{ changed_raw_rows(source('hubspot', 'contacts'), [to_text('id')], ['hubspot_contact_id']) }}

),

parsed as (

    select * replace (try(cast(properties as json)) as properties)
    from source

),

current_version as (

    select * from parsed
    {{ current_version([to_text('id')], updated_at) }}

),

final as (

    select
        {{ to_text('id') }} as hubspot_contact_id,
        {{ to_text("properties ->> '$.email'") }} as email,
        {{ to_text("properties ->> '$.firstname'") }} as firstname,
        {{ to_text("properties ->> '$.lastname'") }} as lastname,
        {{ to_text("properties ->> '$.company'") }} as company,
        {{ to_text("properties ->> '$.jobtitle'") }} as jobtitle,
        {{ to_text("properties ->> '$.lifecyclestage'") }} as lifecyclestage,
        {{ to_text("properties ->> '$.hs_lead_status'") }} as hs_lead_status,
        {{ to_double("properties ->> '$.hubspotscore'") }} as hubspotscore,
        {{ to_text("properties ->> '$.hs_analytics_source'") }} as hs_analytics_source,
        {{ to_text("properties ->> '$.hs_analytics_source_data_1'") }} as hs_analytics_source_data_1,
        {{ hubspot_timestamp("properties ->> '$.hs_analytics_first_timestamp'") }} as hs_analytics_first_timestamp,
        {{ hubspot_timestamp("properties ->> '$.hs_lifecyclestage_marketingqualifiedlead_date'") }}
            as hs_lifecyclestage_marketingqualifiedlead_date,
        {{ to_text("properties ->> '$.salesforceleadid'") }} as salesforceleadid,
        {{ to_text("properties ->> '$.salesforcecontactid'") }} as salesforcecontactid,
        {{ hubspot_timestamp("properties ->> '$.createdate'") }} as createdate,
        {{ hubspot_timestamp("properties ->> '$.lastmodifieddate'") }} as lastmodifieddate,
        {{ hubspot_timestamp('createdAt') }} as created_at,
        {{ updated_at }} as updated_at,
        coalesce({{ to_boolean('archived') }}, false) as is_archived,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
