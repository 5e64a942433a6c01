{#- A form submission has no id of its own: it is its form, its time and its values. The key
    reads the time as epoch milliseconds and the values as compact JSON, so a re-extract that
    spells either differently is still the same submission (the latest batch's copy is kept).
    email_normalized (the identity key the touchpoints match on) came later: a warehouse built
    before it gains the column (append_new_columns), empty for its old rows. -#}
{%- set submitted_at_ms = hubspot_epoch_ms('submittedAt') -%}
{%- set submitted_email = to_text("list_filter(value_list, lambda entry: lower(trim(entry.name)) = 'email')[1].value") -%}
{%- set submission_key -%}
    md5(concat_ws('|', {{ to_text('formGuid') }}, cast({{ submitted_at_ms }} as varchar), try(json("values"))))
{%- endset -%}

{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='append_new_columns',
          unique_key=['form_submission_key'], current_version_by='batch') }}

with source as (

    {{ changed_raw_rows(source('hubspot', 'form_submissions'), [submission_key], ['form_submission_key']) }}

),

current_version as (

    select * from source
    {{ current_version([submission_key]) }}

),

submitted_values as (

    select
        *,
        try(from_json("values", '[{"name": "VARCHAR", "value": "VARCHAR"}]')) as value_list
    from current_version

),

final as (

    select
        {{ submission_key }} as form_submission_key,
        {{ to_text('formGuid') }} as form_guid,
        {{ hubspot_timestamp('submittedAt') }} as submitted_at,
        {{ submitted_at_ms }} as submitted_at_ms,
        {{ to_text('pageUrl') }} as page_url,
        {{ submitted_email }} as email,
        {{ normalize_email(submitted_email) }} as email_normalized,
        _loaded_at,
        _batch_id
    from submitted_values

)

select * from final
