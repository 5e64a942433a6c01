-- Which person a normalized email address belongs to: one row per normalized email of a
-- non-deleted record. Form submissions and email events find their person here. (Internal
-- only: published tables never carry email.)
--
-- Incremental by person: a person's emails are their records' in the identity map, so a nightly
-- build recomputes the people the identity map logged since its marks and replaces exactly those
-- (strategy replace_partitions); a missing state or a rebuilt identity map recompute everyone.

{{ config(
    materialized='incremental',
    incremental_strategy='replace_partitions',
    unique_key='person_id',
    tombstone_column='email_normalized',
    replaced_log=true,
    on_schema_change='fail',
    post_hook=[
        "{{ replace_state_table_sql(incremental_state_relation(this.schema, 'marks'),
                                    incremental_marks_sql([], no_rules_fingerprint_sql(), ['int_person_keys'])) }}",
        "{{ log_full_build_sql() }}",
    ],
) }}

{%- set marks = read_incremental_marks(this.schema, []) %}

with

{{ person_keys_ctes(identity_people_since(marks, no_rules_fingerprint_sql)) }}

final as (
    select distinct
        email_normalized,
        person_id
    from person_keys
    where email_normalized is not null
    {%- if is_incremental() %}

    union all

    -- one tombstone per affected person: replace_partitions empties the person first
    select
        cast(null as {{ dbt.type_string() }}) as email_normalized,
        person_id
    from affected_people
    {%- endif %}
)

select * from final
