{#- What the models downstream of the identity map that build by person (int_persons, the
    int_funnel__* tables, int_identity__person_emails, fct_lead_funnel; int_touchpoints reads the
    identity log through identity_people_since too, and fct_attribution int_touchpoints' log through
    people_replaced_since) follow from one build
    to the next: the rules they apply, and the people whose rows may have changed since a build's
    marks. -#}

{#- The fingerprint of a model that follows no rules besides its data. -#}
{% macro no_rules_fingerprint_sql() -%}
    {{ dbt.string_literal('no rules') }}
{%- endmacro %}

{#- int_persons' rules: alignment.yml's mql.fit. -#}
{% macro person_fit_fingerprint_sql() -%}
    {{ dbt.hash(dbt.string_literal(tojson(var('mql')['fit']))) }}
{%- endmacro %}


{#- int_funnel__person_scores' rules: the MQL threshold (the points are in int_touchpoints' rows). -#}
{% macro person_score_fingerprint_sql() -%}
    {{ dbt.hash(dbt.string_literal(tojson(var('mql')['score_threshold']))) }}
{%- endmacro %}


{#- fct_lead_funnel's rules: alignment.yml's crm and sla, and the response bucket labels. -#}
{% macro funnel_rules_fingerprint_sql() -%}
    {{ dbt.hash(dbt.string_literal(tojson([var('crm'), var('sla'), var('response_bucket_labels')]))) }}
{%- endmacro %}


{#- The people-level models whose logs fct_lead_funnel follows. -#}
{% macro funnel_people_models() -%}
    {{- return(['int_persons', 'int_funnel__person_crm_dates', 'int_funnel__person_scores',
                'int_funnel__lead_status_changes', 'int_funnel__sales_activities']) -}}
{%- endmacro %}


{#- `select person_id` of the people int_persons must recompute since `marks`, given
    `identity_people` (identity_people_since): a person's row follows from its records
    in the identity map, its leads, its contacts and their accounts. So: every person the identity
    map replaced (a record that moved or left has its person before among them), and the person now
    of every lead or contact whose staging row changed, or whose contact's account did. -#}
{% macro person_attribute_changes(marks, identity_people) -%}
with

changed_person_records as (
    select 'lead' as record_type, lead_id as record_id
    from {{ ref('stg_salesforce__leads') }}
    where {{ changed_since(marks, 'stg_salesforce__leads') }}
    union all
    select 'contact' as record_type, contact_id as record_id
    from {{ ref('stg_salesforce__contacts') }}
    where {{ changed_since(marks, 'stg_salesforce__contacts') }}
        or account_id in (
            select account_id from {{ ref('stg_salesforce__accounts') }}
            where {{ changed_since(marks, 'stg_salesforce__accounts') }}
        )
)

{{ identity_people }}
union
select person_keys.person_id
from {{ ref('int_person_keys') }} as person_keys
inner join changed_person_records
    on person_keys.record_type = changed_person_records.record_type
    and person_keys.record_id = changed_person_records.record_id
{%- endmacro %}


{#- `select person_id` of the people a people-level model rebuilds: `changed_people_sql` (a
    `select person_id`), or, when that is none (other rules, no state, a rebuilt upstream), every
    person now (`people_relation`) and every person the model holds. -#}
{% macro people_to_recompute(changed_people_sql, people_relation) -%}
    {%- if changed_people_sql is not none %}
    {{ changed_people_sql }}
    {%- else %}
    -- other rules, no state or a rebuilt upstream: every person, before and now
    select person_id from {{ people_relation }}
    union
    select person_id from {{ this }}
    {%- endif %}
{%- endmacro %}


{#- The people a model must recompute because the upstream people-level `models` (each with
    replaced_log=true) replaced them since the builds of theirs in its marks (`select person_id`),
    or none when that is every person: no marks, other rules than the marks' (`fingerprint`, the
    model's fingerprint macro, called only with marks: a unit test's model has no marks, and may not
    have the seeds a fingerprint reads), or a log that says "every person" since them. -#}
{% macro people_replaced_since(marks, fingerprint, models) -%}
    {%- if marks is none or marks.get('fingerprint') != scalar_value('select ' ~ fingerprint()) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set selects = [] -%}
    {%- for model_name in models -%}
        {%- set logged = replaced_since(model_name, marks.get('replaced:' ~ model_name)) -%}
        {%- if logged is none -%}
            {{- return(none) -}}
        {%- endif -%}
        {%- do selects.append('select partition_key as person_id from (' ~ logged ~ ') as replaced_by_' ~ model_name) -%}
    {%- endfor -%}
    {{- return(selects | join('\nunion\n')) -}}
{%- endmacro %}


{#- The people the identity map replaced since `marks` (people_replaced_since). -#}
{% macro identity_people_since(marks, fingerprint) -%}
    {{- return(people_replaced_since(marks, fingerprint, ['int_person_keys'])) -}}
{%- endmacro %}


{#- `select person_id` of the people a model over leads recomputes: `identity_people`
    (identity_people_since) and the person now of every lead `changed_lead_ids` names (a `select
    lead_id`), or none when identity_people is none (every person). -#}
{% macro identity_and_lead_people(identity_people, changed_lead_ids) -%}
    {%- if identity_people is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set people -%}
    {{ identity_people }}
    union
    select changed_keys.person_id
    from {{ ref('int_person_keys') }} as changed_keys
    where changed_keys.record_type = 'lead'
        and changed_keys.record_id in ({{ changed_lead_ids }})
    {%- endset -%}
    {{- return(people) -}}
{%- endmacro %}


{#- The CTE a people-level model reads the identity map through, `person_keys`: in an incremental
    build only the rows of `affected_people` (people_to_recompute(changed_people_sql), a CTE the
    model's tombstones also read), else every row. Ends with a comma. -#}
{% macro person_keys_ctes(changed_people_sql) -%}
{%- if is_incremental() %}
affected_people as (
    {{ people_to_recompute(changed_people_sql, ref('int_person_keys')) }}
),

person_keys as (
    select * from {{ ref('int_person_keys') }}
    where person_id in (select person_id from affected_people)
),
{%- else %}
person_keys as (
    select * from {{ ref('int_person_keys') }}
),
{%- endif %}
{%- endmacro %}
