{#- What the people-level models downstream of the identity map follow from one build to the next
    (int_persons, int_funnel__person_scores): the rules they apply, and the people whose rows may
    have changed since a build's marks. -#}

{#- int_persons' rules: alignment.yml's mql.fit. -#}
{% macro person_fit_fingerprint_sql() -%}
    {{ dbt.hash(dbt.string_literal(tojson(var('mql')['fit']))) }}
{%- endmacro %}


{#- int_funnel__person_scores' rules: the MQL threshold (the points are in int_touchpoints' rows). -#}
{% macro person_score_fingerprint_sql() -%}
    {{ dbt.hash(dbt.string_literal(tojson(var('mql')['score_threshold']))) }}
{%- endmacro %}


{#- `select person_id` of the people int_persons must recompute since `marks`, given
    `identity_people` (replaced_since on int_person_keys): a person's row follows from its records
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

select partition_key as person_id from ({{ identity_people }}) as identity_people
union
select person_keys.person_id
from {{ ref('int_person_keys') }} as person_keys
inner join changed_person_records
    on person_keys.record_type = changed_person_records.record_type
    and person_keys.record_id = changed_person_records.record_id
{%- endmacro %}
