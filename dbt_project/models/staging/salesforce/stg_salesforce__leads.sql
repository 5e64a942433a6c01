{#- The disqualification reason lives in an org-specific custom field (alignment.yml
    crm.disqualification_reason_field, e.g. Disqualification_Reason__c) that the extractor lands
    as an extra text column. Null when no field is configured or no batch carries it yet. -#}
{%- set reason_field = var('crm')['disqualification_reason_field'] -%}
{%- set reason_field_landed = reason_field
        and reason_field | lower in relation_column_names(source('salesforce', 'lead')) -%}
{%- if reason_field and execute and not reason_field_landed -%}
    {{ log("stg_salesforce__leads: Lead has no column " ~ reason_field
           ~ " (crm.disqualification_reason_field); disqualification_reason is null", info=true) }}
{%- endif -%}

{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['lead_id'], current_version_by='system_modstamp') }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'lead'), [to_text('Id')], ['lead_id']) }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as lead_id,
        {{ to_text('Email') }} as email,
        {{ to_text('Company') }} as company,
        {{ to_text('Title') }} as title,
        {{ to_text('Status') }} as status,
        {{ to_text('LeadSource') }} as lead_source,
        {{ to_text('Industry') }} as industry,
        {{ to_bigint('NumberOfEmployees') }} as number_of_employees,
        {{ to_text('Country') }} as country,
        {{ to_text('OwnerId') }} as owner_id,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        {{ to_boolean('IsConverted') }} as is_converted,
        {{ to_date('ConvertedDate') }} as converted_date,
        {{ to_text('ConvertedAccountId') }} as converted_account_id,
        {{ to_text('ConvertedContactId') }} as converted_contact_id,
        {{ to_text('ConvertedOpportunityId') }} as converted_opportunity_id,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        {{ salesforce_datetime('SystemModstamp') }} as system_modstamp,
        {% if reason_field_landed -%}
        {{ to_text(adapter.quote(reason_field)) }}
        {%- else -%}
        cast(null as varchar)
        {%- endif %} as disqualification_reason,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
