{#- The staging models the identity graph's records come from, each with its record type and key
    column: a record's key is '<record_type>:<id>' (int_identity__records.record_key). -#}
{% macro identity_record_sources() -%}
    {{- return([
        {'model': 'stg_salesforce__leads', 'record_type': 'lead', 'id_column': 'lead_id'},
        {'model': 'stg_salesforce__contacts', 'record_type': 'contact', 'id_column': 'contact_id'},
        {'model': 'stg_hubspot__contacts', 'record_type': 'hubspot_contact', 'id_column': 'hubspot_contact_id'},
    ]) -}}
{%- endmacro %}


{#- The marks of an identity model's build (int_identity__records, int_person_keys): the greatest
    _batch_id of each source; no rules, so a constant fingerprint. -#}
{% macro identity_marks_sql() -%}
    {{ incremental_marks_sql(identity_record_sources() | map(attribute='model') | list, dbt.string_literal('no rules')) }}
{%- endmacro %}


{#- `select record_key`: every record whose staging row changed since `marks` (every record when
    `marks` is none), deleted and archived ones included. -#}
{% macro changed_identity_record_keys_sql(marks) -%}
    {%- for source in identity_record_sources() %}
    select '{{ source.record_type }}:' || {{ source.id_column }} as record_key
    from {{ ref(source.model) }}
    {%- if marks is not none %}
    where {{ changed_since(marks, source.model) }}
    {%- endif %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
