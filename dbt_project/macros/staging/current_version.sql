{#- Keep the current version of each record (SPEC 1.1): the greatest `version` (nulls lose),
    ties and objects without a version go to the later batch, then the later row of it.
    Renders a QUALIFY clause for a select over a raw source; `key` is a list of expressions. -#}
{% macro current_version(key, version=none) -%}
    qualify row_number() over (
        partition by {{ key | join(', ') }}
        order by {% if version %}{{ version }} desc nulls last, {% endif %}_batch_id desc, _source_row desc nulls last
    ) = 1
{%- endmacro %}


{#- Lower-cased column names of a relation (e.g. an external raw source), read when dbt
    executes; empty while it only parses. -#}
{% macro relation_column_names(relation) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set described = run_query("describe select * from " ~ relation) -%}
    {{ return(described.columns[0].values() | map('lower') | list) }}
{%- endmacro %}
