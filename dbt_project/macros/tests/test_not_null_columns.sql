{#- Generic test: none of `columns` is null. One scan of the model for all its required columns
    (one dbt node per model instead of one per column: at ~0.07 s of dbt overhead per node, the
    nightly build ran 139 not_null nodes). Fails with the rows holding a null, naming the columns. -#}
{% test not_null_columns(model, columns) %}

select *
from (
    select
        {%- for column in columns %}
        case when {{ column }} is null then '{{ column }}' end as null_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
    where {{ any_is_null(columns) }}
) as rows_with_nulls

{% endtest %}
