{#- Generic test: `key` identifies a row (no two rows share its values; nulls compare equal, as in
    a group by) and none of `not_null` is null. One dbt node and one scan for both: dbt's own work
    per test node (~0.1 s, most of a small test) was a third of a nightly build's test time when
    each model had a unique test and a not_null_columns test. Fails with one row per key that
    repeats or has a row holding a null; `rows_with_nulls` counts the latter (which columns: look
    them up by the key). -#}
{% test key_and_not_null(model, key, not_null=[]) %}

select
    {{ key | join(', ') }},
    count(*) as rows_with_this_key,
    count(*) filter (where {{ any_is_null(not_null) }}) as rows_with_nulls
from {{ model }}
group by {{ key | join(', ') }}
having rows_with_this_key > 1 or rows_with_nulls > 0

{% endtest %}
