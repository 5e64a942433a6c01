{# Schemas are named for the layer alone (staging, intermediate, marts, seeds), not prefixed
   with the target schema: the warehouse holds one project. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
