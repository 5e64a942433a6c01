{#- The identity key of an email address: lower-cased and trimmed; empty means no email. -#}
{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}
