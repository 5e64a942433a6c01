{#- Portable spellings of what dbt's own cross-database macros (dbt.datediff, dbt.listagg, ...)
    do not cover, so the project can later build on engines other than DuckDB. -#}

{#- The least of the known values: null only when every value is null. Engines disagree on
    least() with a null argument (DuckDB and Postgres skip it, Snowflake and Trino return null),
    so each argument falls back to the others before least() sees it. -#}
{% macro least_known(values) -%}
    {{ _extreme_known('least', values) }}
{%- endmacro %}

{#- The greatest of the known values: null only when every value is null. -#}
{% macro greatest_known(values) -%}
    {{ _extreme_known('greatest', values) }}
{%- endmacro %}

{% macro _extreme_known(function, values) -%}
    {{ function }}(
        {%- for value in values %}
        coalesce({{ value }}{% for other in values if other != value %}, {{ other }}{% endfor %}){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Continuous percentile (interpolated) of an aggregate group, nulls ignored. -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}
