{#- Generic test: no two rows share the same values of `combination_of_columns` (a
    multi-column key such as a dated rate's iso_code + start_date). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select {{ combination_of_columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
