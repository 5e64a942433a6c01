{#- Incremental models whose rows depend on more than their own source rows (int_touchpoints,
    fct_attribution) keep, next to their table, what they last built from: small state tables
    written by a post-hook inside the model's own transaction (so table and state commit together,
    or neither does), in the intermediate schema:
    - `<model>__state_marks` (name, value): per staging input the greatest _batch_id it held
      (`batch:<model>`), and `fingerprint`, a hash of the rules (vars and seeds) the rows follow;
      with `replaced:<model>`, the last build it read of an upstream model's replaced-partitions log;
    - further snapshots per model (opportunity inputs), see the models.
    A nightly build diffs the current inputs against that state, and reads the upstream logs, to
    find the few keys (people, opportunities) whose rows may change, and replaces the rows of
    exactly those keys. With no state, other rules than the state's (an edited seed or
    alignment.yml) or an upstream log that says "every partition", it rebuilds all. -#}

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
        {%- if not table_exists(relation) -%}
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


{#- Whether a table exists now, at execution: state tables are made by hooks, out of sight of
    dbt's relation cache (adapter.get_relation would miss one made earlier in the same run). -#}
{% macro table_exists(relation) -%}
    {{- return(scalar_value("select count(*) from information_schema.tables where table_catalog = "
                            ~ dbt.string_literal(relation.database) ~ " and table_schema = "
                            ~ dbt.string_literal(relation.schema) ~ " and table_name = "
                            ~ dbt.string_literal(relation.identifier)) > 0) -}}
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


{#- The marks table's rows: the greatest _batch_id of each staging input, the last build read of
    each upstream replaced-partitions log (`replaced_logs`, model names), and the fingerprint. -#}
{% macro incremental_marks_sql(batch_models, fingerprint_sql, replaced_logs=[]) -%}
    {%- for model_name in batch_models %}
    select
        cast('batch:{{ model_name }}' as {{ dbt.type_string() }}) as name,
        cast(max(_batch_id) as {{ dbt.type_string() }}) as value
    from {{ ref(model_name) }}
    union all
    {%- endfor %}
    {%- for model_name in replaced_logs %}
    {{ replaced_log_mark_sql(model_name) }}
    union all
    {%- endfor %}
    select
        cast('fingerprint' as {{ dbt.type_string() }}) as name,
        cast(({{ fingerprint_sql }}) as {{ dbt.type_string() }}) as value
{%- endmacro %}


{#- The rows of `current` not in `previous` and those of `previous` not in `current` (relations or
    CTEs with the same columns): what differs between a kept snapshot and now. -#}
{% macro rows_changed_sql(current, previous) -%}
    (select * from {{ current }} except select * from {{ previous }})
    union all
    (select * from {{ previous }} except select * from {{ current }})
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
    inserted, so a partition that lost all its rows (a deleted person or opportunity) is emptied.
    With `replaced_log=true` the build also logs the partitions it replaced (see replaced_log_relation). -#}
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
    {%- if config.get('replaced_log', false) %};

    {{ log_replaced_partitions_sql(changed) }}
    {%- endif %}
{%- endmacro %}


{#- The replaced-partitions log of a replace_partitions model (config replaced_log=true):
    `<model>__state_replaced` (partition_key, build), one row per partition a build replaced
    (emptied ones included), `build` increasing from build to build. A row with a null
    partition_key stands for every partition: a full build, or builds the log no longer holds.
    A model downstream reads the partitions replaced after the greatest `build` it last read
    (replaced_since), so it recomputes only what changed upstream, whichever nights it missed. -#}
{% macro replaced_log_relation(model_relation) -%}
    {{- return(api.Relation.create(database=model_relation.database, schema=model_relation.schema,
                                   identifier=model_relation.identifier ~ '__state_replaced', type='table')) -}}
{%- endmacro %}


{#- How many builds a log keeps (60 nights by default): a downstream model that last read the log
    before them rebuilds whole. -#}
{% macro replaced_log_builds_kept() -%}
    {{- return(env_var('CLOSEDLOOP_REPLACED_LOG_BUILDS', '60') | int) -}}
{%- endmacro %}


{% macro create_replaced_log_sql(log) -%}
    create table if not exists {{ log }} (partition_key {{ dbt.type_string() }}, build bigint)
{%- endmacro %}


{#- The next build number: past every logged one, and the clock's microseconds, so that it still
    grows if the log is dropped and made again. -#}
{% macro next_replaced_build_sql(log) -%}
    (select greatest(coalesce(max(build) + 1, 0), epoch_us(current_timestamp)) from {{ log }})
{%- endmacro %}


{#- Inside the strategy: log the partitions of `changed` (tombstones included), then forget the
    builds before the last replaced_log_builds_kept(), leaving a null row at the oldest build kept. -#}
{% macro log_replaced_partitions_sql(changed) -%}
    {%- set log = replaced_log_relation(this) -%}
    {%- set partition_key = adapter.quote(config.get('unique_key')) -%}
    {%- set oldest_kept -%}
        (select min(build) from (select distinct build from {{ log }} order by build desc limit {{ replaced_log_builds_kept() }}))
    {%- endset -%}
    {{ create_replaced_log_sql(log) }};

    insert into {{ log }} (partition_key, build)
    select distinct {{ partition_key }}, {{ next_replaced_build_sql(log) }} from {{ changed }};

    insert into {{ log }} (partition_key, build)
    select null, {{ oldest_kept }}
    where exists (select 1 from {{ log }} where build < {{ oldest_kept }});

    delete from {{ log }} where build < {{ oldest_kept }}
{%- endmacro %}


{#- Post-hook of a model with replaced_log=true: a full build (the first, or --full-refresh) logs
    one null row, "every partition" (an incremental build that recomputes everyone logs every key,
    through the strategy). -#}
{% macro log_full_build_sql() -%}
    {%- set log = replaced_log_relation(this) -%}
    {{ create_replaced_log_sql(log) }};
    {%- if not is_incremental() %}
    insert into {{ log }} (partition_key, build) select null, {{ next_replaced_build_sql(log) }}
    {%- endif %}
{%- endmacro %}


{#- `select <partition_key>` of the partitions `model_name` replaced after the build `mark` (a
    value of replaced_log_mark_sql), or none when that set is every partition: no mark, no log,
    or a null row after the mark (a full build, or builds forgotten). At execution only. -#}
{% macro replaced_since(model_name, mark) -%}
    {%- set log = replaced_log_relation(ref(model_name)) -%}
    {%- if mark is none or not table_exists(log) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set after = 'build > ' ~ mark | int -%}
    {%- if scalar_value('select count(*) from ' ~ log ~ ' where partition_key is null and ' ~ after) > 0 -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return('select partition_key from ' ~ log ~ ' where ' ~ after) -}}
{%- endmacro %}


{#- A marks row (for incremental_marks_sql's `replaced_logs`): the last build of `model_name`'s
    log this build read. -#}
{% macro replaced_log_mark_sql(model_name) -%}
    {%- set log = replaced_log_relation(ref(model_name)) -%}
    {%- set log_exists = execute and table_exists(log) %}
    select
        cast('replaced:{{ model_name }}' as {{ dbt.type_string() }}) as name,
        {%- if log_exists %}
        cast(max(build) as {{ dbt.type_string() }}) as value
    from {{ log }}
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as value
        {%- endif %}
{%- endmacro %}
