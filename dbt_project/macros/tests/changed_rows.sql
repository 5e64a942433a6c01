{#- Key tests on the rows changed since they last passed. A table whose key and not-null rules held
    when its test last passed can only break them in rows written since: a repeated key has a copy
    among them, a null sits in one of them. So a nightly key_and_not_null with `changed_rows` checks
    the keys of those rows against the whole table (a semi join on the key, not a group by of every
    key) and the nulls among them, instead of the whole table every night.

    `changed_rows` says how the model's rows written since a mark are found:
    - `batches` (incremental staging with `current_version_by`): every row an incremental build
      writes comes from a batch after those already built, so the rows with `_batch_id` above the
      mark. A model without `current_version_by` re-writes a key's old winner with its old
      `_batch_id`: it keeps the whole-table test.
    - `replaced_partitions` (replace_partitions models with `replaced_log=true`): the rows of the
      partitions (`partition_key`) the model's log holds after the mark; all of them when the log
      says "every partition" after it (a full build, or builds it no longer holds).

    The marks: `key_tests_passed` (model, mark) in the target schema, one row per model whose test
    passed: its greatest `_batch_id`, or its log's last build, when the test passed (written by
    the on-run-end hook record_key_tests_passed). A failing or skipped test leaves its model's mark
    as it was, so the next build checks the rows written since then again, the failing ones among
    them. A build of the model that is not incremental (the first, --full-refresh) deletes the
    mark (forget_key_tests_passed, a post-hook): with no mark the test checks the whole table. -#}

{% macro key_tests_passed_relation() -%}
    {{- return(api.Relation.create(database=target.database, schema=target.schema,
                                   identifier='key_tests_passed', type='table')) -}}
{%- endmacro %}


{#- How the marks name a model: its schema and table. -#}
{% macro key_tests_model_name(relation) -%}
    {{- return(dbt.string_literal(relation.schema ~ '.' ~ relation.identifier)) -}}
{%- endmacro %}


{#- on-run-start: the marks table, so that hooks and tests can read and write it unguarded. -#}
{% macro create_key_tests_passed() -%}
    create table if not exists {{ key_tests_passed_relation() }} (model {{ dbt.type_string() }}, mark {{ dbt.type_string() }})
{%- endmacro %}


{#- A condition on the model's rows selecting those written since its test last passed, or none
    (check every row). At execution only: one query for the mark. -#}
{% macro changed_rows_condition(model, changed_rows, partition_key) -%}
    {%- if not execute or changed_rows is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set tested_mark -%}
        (select max(mark) from {{ key_tests_passed_relation() }} where model = {{ key_tests_model_name(model) }})
    {%- endset -%}
    {%- if changed_rows == 'batches' -%}
        {%- set mark = scalar_value('select ' ~ tested_mark) -%}
        {{- return(none if mark is none else '_batch_id > ' ~ dbt.string_literal(mark)) -}}
    {%- elif changed_rows == 'replaced_partitions' -%}
        {%- set log = replaced_log_relation(model) -%}
        {%- set mark_and_full_builds -%}
            select tested.mark, (select count(*) from {{ log }}
                                 where partition_key is null and build > cast(tested.mark as bigint))
            from (select {{ tested_mark }} as mark) as tested
        {%- endset -%}
        {%- set row = run_query(mark_and_full_builds).rows[0] -%}
        {%- if row[0] is none or row[1] > 0 -%}
            {{- return(none) -}}
        {%- endif -%}
        {{- return(adapter.quote(partition_key) ~ ' in (select partition_key from ' ~ log ~ ' where build > '
                   ~ row[0] | int ~ ')') -}}
    {%- else -%}
        {{- exceptions.raise_compiler_error("key_and_not_null: changed_rows must be 'batches' or "
                                            ~ "'replaced_partitions', not " ~ changed_rows) -}}
    {%- endif -%}
{%- endmacro %}


{#- on-run-end: for each key_and_not_null test with `changed_rows` that passed in this invocation,
    the mark through which its model's rows passed. -#}
{% macro record_key_tests_passed(results) -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set models, marks = [], [] -%}
    {%- for result in results -%}
        {%- set node = result.node -%}
        {%- set metadata = node.test_metadata if node.resource_type == 'test' else none -%}
        {%- set changed_rows = metadata.kwargs.get('changed_rows') if metadata and metadata.name == 'key_and_not_null' -%}
        {%- if changed_rows and result.status == 'pass' -%}
            {%- set tested = graph.nodes[node.attached_node] -%}
            {%- set relation = api.Relation.create(database=tested.database, schema=tested.schema,
                                                   identifier=tested.alias, type='table') -%}
            {%- set mark -%}
                {%- if changed_rows == 'batches' -%}
                    select max(_batch_id) from {{ relation }}
                {%- else -%}
                    {#- 0 for an empty log: the test read every row, and any later build logs what it replaces #}
                    select coalesce(max(build), 0) from {{ replaced_log_relation(relation) }}
                {%- endif -%}
            {%- endset -%}
            {%- set model_name = key_tests_model_name(relation) -%}
            {%- do models.append(model_name) -%}
            {%- do marks.append('select ' ~ model_name ~ ', cast((' ~ mark ~ ') as ' ~ dbt.type_string() ~ ')') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not marks -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set passed = key_tests_passed_relation() -%}
    delete from {{ passed }} where model in ({{ models | join(', ') }});
    insert into {{ passed }} (model, mark) {{ marks | join('\nunion all\n') }}
{%- endmacro %}


{#- post-hook: a build of the model that is not incremental (a table, the first build of an
    incremental one, --full-refresh) forgets the mark of its tested rows, so its key test checks
    the whole table. -#}
{% macro forget_key_tests_passed() -%}
    {%- if not is_incremental() -%}
        delete from {{ key_tests_passed_relation() }} where model = {{ key_tests_model_name(this) }}
    {%- endif -%}
{%- endmacro %}
