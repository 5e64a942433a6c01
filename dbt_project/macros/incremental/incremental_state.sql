{#- Incremental models whose rows depend on more than their own source rows (int_touchpoints,
    fct_attribution) keep, next to their table, what they last built from: small state tables
    written by a post-hook inside the model's own transaction (so table and state commit together,
    or neither does), in the intermediate schema:
    - `<model>__state_marks` (name, value): per staging input the greatest _batch_id it held
      (`batch:<model>`), and `fingerprint`, a hash of the rules (vars and seeds) the rows follow;
    - further snapshots per model (the identity map, opportunity inputs), see the models.
    A nightly build diffs the current inputs against that state to find the few keys (people,
    opportunities) whose rows may change, and replaces the rows of exactly those keys. With no
    state, or other rules than the state's (an edited seed or alignment.yml), it rebuilds all. -#}

{% macro incremental_state_relation(schema, suffix) -%}
    {{- return(api.Relation.create(database=this.database, schema=schema,
                                   identifier=this.identifier ~ '__state_' ~ suffix, type='table')) -}}
{%- endmacro %}


{#- The marks of the model's last build as a dict, or none (not an incremental build, or the marks
    or one of the model's `snapshots` state tables missing). -#}
{% macro read_incremental_marks(schema, snapshots) -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set marks = incremental_state_relation(schema, 'marks') -%}
    {%- for suffix in ['marks'] + snapshots -%}
        {%- set relation = incremental_state_relation(schema, suffix) -%}
        {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
            {{- return(none) -}}
        {%- endif -%}
    {%- endfor -%}
    {%- set result = run_query('select name, value from ' ~ marks) -%}
    {%- set state = {} -%}
    {%- for row in result.rows -%}
        {%- do state.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {{- return(state) -}}
{%- endmacro %}


{#- The value of a one-row, one-column query, at execution (none while parsing). -#}
{% macro scalar_value(sql) -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(run_query(sql).columns[0].values()[0]) -}}
{%- endmacro %}


{#- SQL that replaces a state table with the result of `sql` (for a post-hook). -#}
{% macro replace_state_table_sql(relation, sql) -%}
    drop table if exists {{ relation }};
    {{ get_create_table_as_sql(False, relation, sql) }}
{%- endmacro %}


{#- The marks table's rows: the greatest _batch_id of each staging input, and the fingerprint. -#}
{% macro incremental_marks_sql(batch_models, fingerprint_sql) -%}
    {%- for model_name in batch_models %}
    select
        cast('batch:{{ model_name }}' as {{ dbt.type_string() }}) as name,
        cast(max(_batch_id) as {{ dbt.type_string() }}) as value
    from {{ ref(model_name) }}
    union all
    {%- endfor %}
    select
        cast('fingerprint' as {{ dbt.type_string() }}) as name,
        cast(({{ fingerprint_sql }}) as {{ dbt.type_string() }}) as value
{%- endmacro %}


{#- `_batch_id > '<mark>'` for a staging model: its rows that changed since the build that left
    these marks (a constant, so DuckDB skips the row groups of older batches). -#}
{% macro changed_since(marks, model_name) -%}
    {%- set built_through = marks.get('batch:' ~ model_name) -%}
    {%- if built_through is none -%}
        true
    {%- else -%}
        _batch_id > {{ dbt.string_literal(built_through) }}
    {%- endif -%}
{%- endmacro %}


{#- Custom incremental strategy: the model's incremental result holds, for every affected
    partition (unique_key, e.g. person_id), all its rows plus one tombstone row whose
    `tombstone_column` is null. Every row of those partitions is deleted, then the real rows are
    inserted, so a partition that lost all its rows (a deleted person or opportunity) is emptied. -#}
{% macro get_incremental_replace_partitions_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set changed = arg_dict['temp_relation'] -%}
    {%- set partition_key = adapter.quote(arg_dict['unique_key']) -%}
    {%- set tombstone = adapter.quote(config.require('tombstone_column')) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }}
    where {{ partition_key }} in (select {{ partition_key }} from {{ changed }});

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ changed }}
    where {{ tombstone }} is not null
{%- endmacro %}
