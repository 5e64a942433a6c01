{#- SQL condition: at least one of `columns` is null (false for none); the null rule both
    not_null_columns and key_and_not_null apply. -#}
{% macro any_is_null(columns) -%}
    {% for column in columns %}{{ column }} is null{{ ' or ' if not loop.last }}{% else %}false{% endfor %}
{%- endmacro %}
