{#- Which touches may have changed since the build that left `marks`; `identity_people` is a
    `select person_id` of the people int_person_keys replaced since then (identity_people_since: every
    person whose records' person_id changed, before and now, is one of them). A touch's row follows
    from its source row, its campaign (type) or form (name), its person (through the identity map: a
    record id or a normalized email), the person's first visit (form fallback channel) and the rules
    (vars, seeds: the fingerprint). So the touches of these people may differ, and no others:
    - every person the identity map replaced (merges, splits, deletions, new records);
    - every person of a record whose staging row changed (an email edit can move an email, and the
      form submissions and email events carrying it, without moving the record; an edited HubSpot
      contact changes its visit and so its person's form channels); its person before, if another,
      is one of the replaced;
    - the person now of every changed touch source (new or edited campaign member, email event,
      form submission), of every member of a changed campaign or of a lead in a replaced person
      (a member whose lead left the map falls back to its contact), and every submission of a
      changed form.
    A changed source row can also leave the person it had: rows come back as `touchpoint_id`s
    (`sf_cm:`, `hs_email:`) for the caller to look up in what it built (an edited form submission
    keeps its email, it is part of the submission's key, so it keeps its person but through the
    identity map, which the first two bullets cover).
    Returns `with ... select person_id, touchpoint_id` (one of the two null per row). -#}

{% macro touch_source_models() -%}
    {{- return(['stg_salesforce__leads', 'stg_salesforce__contacts', 'stg_hubspot__contacts',
                'stg_salesforce__campaign_members', 'stg_salesforce__campaigns', 'stg_hubspot__forms',
                'stg_hubspot__form_submissions', 'stg_hubspot__email_events']) -}}
{%- endmacro %}


{#- A scalar SQL expression: a hash of every rule a touchpoint row follows besides its data (the
    alignment vars and the three mapping seeds). An edited seed or var changes it, and the next
    incremental build then rebuilds every row. -#}
{% macro touch_rules_fingerprint_sql() -%}
    {%- set rules = {'points': var('mql')['points'], 'demo_request_forms': var('mql')['demo_request_forms']} -%}
    {%- set seeds = [
        ('campaign_type_touches', ['campaign_type', 'touch_type', 'channel']),
        ('utm_medium_channels', ['utm_medium', 'channel']),
        ('hubspot_source_channels', ['hs_analytics_source', 'channel']),
    ] -%}
    {%- set parts = [dbt.string_literal(tojson(rules))] -%}
    {%- for seed, columns in seeds -%}
        {%- set row_text -%}
            {%- set cells = [] -%}
            {%- for column in columns -%}
                {%- do cells.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '<null>')") -%}
                {%- if not loop.last %}{% do cells.append("'|'") %}{% endif -%}
            {%- endfor -%}
            {{ dbt.concat(cells) }}
        {%- endset -%}
        {%- do parts.append("coalesce((select " ~ dbt.listagg(row_text, "'\n'", "order by " ~ row_text)
                            ~ " from " ~ ref(seed) ~ "), '')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}


{% macro touch_changes(marks, identity_people) -%}
with

changes_identity_people as (
    {{ identity_people }}
),

changes_current_keys as (
    select record_type, record_id, person_id from {{ ref('int_person_keys') }}
),

changes_records as (
    select 'lead' as record_type, lead_id as record_id
    from {{ ref('stg_salesforce__leads') }}
    where {{ changed_since(marks, 'stg_salesforce__leads') }}
    union all
    select 'contact' as record_type, contact_id as record_id
    from {{ ref('stg_salesforce__contacts') }}
    where {{ changed_since(marks, 'stg_salesforce__contacts') }}
    union all
    select 'hubspot_contact' as record_type, hubspot_contact_id as record_id
    from {{ ref('stg_hubspot__contacts') }}
    where {{ changed_since(marks, 'stg_hubspot__contacts') }}
),

changes_record_people as (
    select changes_current_keys.person_id
    from changes_current_keys
    inner join changes_records
        on changes_current_keys.record_type = changes_records.record_type
        and changes_current_keys.record_id = changes_records.record_id
),

changes_campaigns as (
    select campaign_id
    from {{ ref('stg_salesforce__campaigns') }}
    where {{ changed_since(marks, 'stg_salesforce__campaigns') }}
),

changes_moved_leads as (
    -- a member whose lead left (or joined) the identity map falls back to (from) its contact
    select record_id as lead_id from changes_current_keys
    where record_type = 'lead'
        and person_id in (select person_id from changes_identity_people)
    union all
    select record_id as lead_id from changes_records where record_type = 'lead'
),

changes_members as (
    select lead_id, contact_id
    from {{ ref('stg_salesforce__campaign_members') }}
    where {{ changed_since(marks, 'stg_salesforce__campaign_members') }}
        or campaign_id in (select campaign_id from changes_campaigns)
        or lead_id in (select lead_id from changes_moved_leads)
),

changes_member_people as (
    select changes_current_keys.person_id
    from changes_current_keys
    inner join changes_members
        on changes_current_keys.record_type = 'lead'
        and changes_current_keys.record_id = changes_members.lead_id
    union all
    select changes_current_keys.person_id
    from changes_current_keys
    inner join changes_members
        on changes_current_keys.record_type = 'contact'
        and changes_current_keys.record_id = changes_members.contact_id
),

changes_forms as (
    select form_guid
    from {{ ref('stg_hubspot__forms') }}
    where {{ changed_since(marks, 'stg_hubspot__forms') }}
),

changes_emails as (
    select {{ staged_email_normalized('email_normalized', 'email') }} as email_normalized
    from {{ ref('stg_hubspot__form_submissions') }}
    where {{ changed_since(marks, 'stg_hubspot__form_submissions') }}
        or form_guid in (select form_guid from changes_forms)
    union all
    select {{ staged_email_normalized('recipient_normalized', 'recipient') }} as email_normalized
    from {{ ref('stg_hubspot__email_events') }}
    where {{ changed_since(marks, 'stg_hubspot__email_events') }}
),

changes_email_people as (
    select person_emails.person_id
    from {{ ref('int_identity__person_emails') }} as person_emails
    inner join changes_emails
        on person_emails.email_normalized = changes_emails.email_normalized
),

changes_people as (
    select person_id from changes_identity_people
    union all
    select person_id from changes_record_people
    union all
    select person_id from changes_member_people
    union all
    select person_id from changes_email_people
),

changes_touches as (
    select 'sf_cm:' || campaign_member_id as touchpoint_id
    from {{ ref('stg_salesforce__campaign_members') }}
    where {{ changed_since(marks, 'stg_salesforce__campaign_members') }}
    union all
    select 'hs_email:' || email_event_id as touchpoint_id
    from {{ ref('stg_hubspot__email_events') }}
    where {{ changed_since(marks, 'stg_hubspot__email_events') }}
)

select distinct person_id, cast(null as {{ dbt.type_string() }}) as touchpoint_id
from changes_people
where person_id is not null
union all
select distinct cast(null as {{ dbt.type_string() }}) as person_id, touchpoint_id
from changes_touches
where touchpoint_id is not null
{%- endmacro %}


{#- fct_attribution's rules: the touch rules and the attribution vars. -#}
{% macro attribution_rules_fingerprint_sql() -%}
    {{ dbt.hash(dbt.concat([touch_rules_fingerprint_sql(), dbt.string_literal(tojson(var('attribution')))])) }}
{%- endmacro %}


{#- What fct_attribution takes from an opportunity itself, and from its people: the snapshots it
    compares to find the opportunities to recompute. -#}
{% macro attribution_opportunity_inputs_sql() -%}
    select opportunity_id, created_at, close_at, is_won, is_lost, amount_reporting
    from {{ ref('int_opportunities') }}
{%- endmacro %}

{% macro attribution_people_inputs_sql() -%}
    select
        attribution_people.opportunity_id,
        attribution_people.person_id,
        attribution_mql.mql_touchpoint_id
    from {{ ref('int_opportunity_people') }} as attribution_people
    left join {{ ref('fct_lead_funnel') }} as attribution_mql
        on attribution_people.person_id = attribution_mql.person_id
{%- endmacro %}
