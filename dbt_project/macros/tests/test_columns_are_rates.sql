{#- Generic test: every value of the rate columns is a share in [0, 1] or null (SPEC 4.1: a rate is
    null when its denominator is 0). `columns` names them; `prefixes` adds every column of the
    model whose name starts with one (columns named after alignment.yml values, such as the
    response buckets), read from the built table. -#}
{% test columns_are_rates(model, columns=[], prefixes=[]) %}

{%- set rate_columns = columns | list -%}
{%- if execute and prefixes -%}
    {%- for column in adapter.get_columns_in_relation(model) -%}
        {%- for prefix in prefixes if column.name.startswith(prefix) and column.name not in rate_columns -%}
            {%- do rate_columns.append(column.name) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}

{%- for column in rate_columns %}
select '{{ column }}' as rate_column, cast({{ column }} as double) as value
from {{ model }}
where {{ column }} < 0 or {{ column }} > 1
{{ 'union all' if not loop.last }}
{%- endfor %}
{%- if not rate_columns %}
select cast(null as {{ dbt.type_string() }}) as rate_column, cast(null as double) as value
where 1 = 0
{%- endif %}

{% endtest %}
