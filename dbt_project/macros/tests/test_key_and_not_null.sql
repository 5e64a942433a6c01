{#- Generic test: `key` identifies a row (no two rows share its values; nulls compare equal, as in
    a group by) and none of `not_null` is null. One dbt node for both: dbt's own work per test node
    (~0.1 s, most of a small test) was a third of a nightly build's test time when each model had a
    unique test and a not_null_columns test. Fails with one row per key that repeats or has a row
    holding a null; `rows_with_nulls` counts the latter (which columns: look them up by the key).

    The failing keys are found first and only their rows are counted: the null rule alone is
    answered from DuckDB's column statistics (no column is read where none holds a null), and the
    final pass reads no row group when no key fails. Counting every key's nulls in the one group by
    read all the `not_null` columns of every row: 0.5-0.7 s -> 0.3 s on 5M touchpoints.

    With `changed_rows` (and `partition_key` for replaced_partitions), a build that follows one
    where the test passed checks only the rows written since (macros/tests/changed_rows.sql). -#}
{% test key_and_not_null(model, key, not_null=[], changed_rows=none, partition_key=none) %}
{%- set null_rule = any_is_null(not_null) %}
{%- set changed = changed_rows_condition(model, changed_rows, partition_key) %}

with failing_keys as (
    {%- if changed is none %}
    select {{ key | join(', ') }}
    from {{ model }}
    group by {{ key | join(', ') }}
    having count(*) > 1
    union
    select {{ key | join(', ') }}
    from {{ model }}
    where {{ null_rule }}
    {%- else %}
    -- only the rows written since the test last passed (macros/tests/changed_rows.sql)
    select {% for column in key %}whole.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ model }} as whole
    semi join (select {{ key | join(', ') }} from {{ model }} where {{ changed }}) as changed_keys
        on {% for column in key %}whole.{{ column }} is not distinct from changed_keys.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
    group by {% for column in key %}whole.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    having count(*) > 1
    union
    select {{ key | join(', ') }}
    from {{ model }}
    where ({{ changed }}) and ({{ null_rule }})
    {%- endif %}
)

select
    {% for column in key %}checked.{{ column }}, {% endfor %}
    count(*) as rows_with_this_key,
    count(*) filter (where {{ null_rule }}) as rows_with_nulls
from {{ model }} as checked
semi join failing_keys
    on {% for column in key %}checked.{{ column }} is not distinct from failing_keys.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
group by {% for column in key %}checked.{{ column }}{{ ', ' if not loop.last }}{% endfor %}

{% endtest %}
