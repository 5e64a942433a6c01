{#- A list of strings from alignment.yml as SQL literals: 'a', 'b' (quotes escaped).
    An empty list renders as null, so `x in (null)` is never true. -#}
{% macro sql_string_list(values) -%}
    {%- if values | length == 0 -%}
        null
    {%- else -%}
        {%- for value in values -%}
            '{{ value | string | replace("'", "''") }}'{{ ", " if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
