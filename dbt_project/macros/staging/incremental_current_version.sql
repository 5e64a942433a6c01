{#- Incremental staging (SPEC 1.1): a nightly build reads only the raw batches landed since the
    last one, yet keeps exactly the rows a full build would.

    A staging model is `materialized='incremental'` with `unique_key` = its key columns and
    `incremental_strategy='replace_by_key'`, and reads its raw source through
    `changed_raw_rows(source, key, key_columns)` before `current_version(key, ...)`:
    - full build (first run, --full-refresh): every raw row;
    - incremental build: the raw rows of batches after the greatest _batch_id already built, plus,
      for the keys those rows carry (and only those), the raw rows of the batch that holds each
      key's current version in {{ this }} (its _batch_id). `current_version` then orders these candidates exactly
      as a full build orders all rows (version, then _batch_id, then _source_row). The order is
      total, so the winner over all batches is the winner over {last winner} + {new rows}: an older
      re-extract landed later loses, a tie goes to the later batch, and a deleted flag follows the
      winning version. Re-reading the winner from raw (not from {{ this }}) keeps every column
      derived from the same raw text by the same SQL.
    The batch bounds are constants read when dbt executes, so DuckDB skips the Parquet files of
    other batches by their _batch_id statistics.

    Two kinds of model need no raw row of older batches, which costs a scan of each winner's
    whole batch (at 1M people, 0.4-0.6 s for the HubSpot contacts' first batch and its JSON):
    - `config(current_version_by='batch')`: no version (current_version without one), so the
      later batch always wins: a new row beats its key's built winner;
    - `config(current_version_by='<column>')`: the staged column holds the version expression
      current_version orders by; the new winner competes with the built one by that column in
      replace_by_key (a built row with a later version stays, as an older re-extract loses). -#}

{% macro changed_raw_rows(relation, key, key_columns) -%}
    {%- if not (execute and is_incremental()) -%}
        select * from {{ relation }}
    {%- else -%}
        {%- set built_through = run_query("select max(_batch_id) from " ~ this).columns[0].values()[0] -%}
        {%- if built_through is none -%}
            select * from {{ relation }}
        {%- elif config.get('current_version_by') -%}
            select * from {{ relation }}
            where _batch_id > {{ dbt.string_literal(built_through) }}
        {%- else -%}
            {%- set after = "_batch_id > " ~ dbt.string_literal(built_through) -%}
            {%- set key_match = [] -%}
            {%- for column in key_columns -%}
                {%- do key_match.append("built." ~ adapter.quote(column) ~ " is not distinct from raw_rows._changed_key_"
                                         ~ loop.index) -%}
            {%- endfor -%}
            {%- set keyed_raw -%}
                select *{% for expression in key %}, {{ expression }} as _changed_key_{{ loop.index }}{% endfor %}
                from {{ relation }}
            {%- endset -%}
            {%- set winner_batches_sql -%}
                select distinct built._batch_id
                from {{ this }} as built
                semi join ({{ keyed_raw }} where {{ after }}) as raw_rows
                    on {{ key_match | join(' and ') }}
            {%- endset -%}
            {%- set winner_batches = run_query(winner_batches_sql).columns[0].values() | list -%}
            {%- set new_key_match = [] -%}
            {%- for expression in key -%}
                {%- do new_key_match.append("new_rows._changed_key_" ~ loop.index ~ " is not distinct from raw_rows._changed_key_"
                                             ~ loop.index) -%}
            {%- endfor -%}
            select raw_rows.* exclude ({% for expression in key %}_changed_key_{{ loop.index }}{{ ', ' if not loop.last }}{% endfor %})
            from (
                {{ keyed_raw }}
                where {{ after }}
                {%- if winner_batches %}
                union all
                {#- the current winner of each key the new rows carry: only those keys, not every
                    winner of the (often initial, whole-object) batches that hold them #}
                select raw_rows.* from ({{ keyed_raw }}
                    where _batch_id in ({% for batch in winner_batches %}{{ dbt.string_literal(batch) }}{{ ', ' if not loop.last }}{% endfor %})
                ) as raw_rows
                where exists (
                    select 1 from ({{ keyed_raw }} where {{ after }}) as new_rows
                    where {{ new_key_match | join(' and ') }}
                )
                and exists (
                    select 1 from {{ this }} as built
                    where built._batch_id = raw_rows._batch_id and {{ key_match | join(' and ') }}
                )
                {%- endif %}
            ) as raw_rows
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- Custom incremental strategy: replace the rows of every key in the new build, null keys
    included (a full build's current_version groups null keys together, so a null key is one
    record here too; plain delete+insert compares with = and would keep a stale copy). -#}
{% macro get_incremental_replace_by_key_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set changed = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set unique_key = [unique_key] if unique_key is string else unique_key -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set key_match -%}
        {%- for column in unique_key -%}
            changed.{{ adapter.quote(column) }} is not distinct from built.{{ adapter.quote(column) }}
            {{- ' and ' if not loop.last }}
        {%- endfor -%}
    {%- endset -%}
    {%- set version_column = config.get('current_version_by') -%}
    {%- if version_column and version_column != 'batch' -%}
    {%- set version = adapter.quote(version_column) -%}
    {#- current_version's order: the later version first, nulls last; a tie goes to the later
        batch, which the new rows' always is -#}
    delete from {{ changed }} as changed
    where exists (
        select 1 from {{ target }} as built
        where {{ key_match }}
            and built.{{ version }} is not null
            and (changed.{{ version }} is null or built.{{ version }} > changed.{{ version }})
    );

    {% endif -%}
    delete from {{ target }} as built
    where exists (
        select 1 from {{ changed }} as changed
        where {{ key_match }}
    );

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ changed }}
{%- endmacro %}
