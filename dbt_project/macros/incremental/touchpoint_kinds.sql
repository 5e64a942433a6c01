{#- The touchpoint rules of SPEC 3 "Touchpoint", one macro per kind, each a self-contained
    `with ... select` over the relations (or CTE names) it is given. The int_touchpoints__* views
    call them on whole upstream models (that is what their unit tests test); int_touchpoints calls
    the same macros on whole models in a full build and on the source rows of the affected people
    in an incremental one, so both builds run the very same SQL. Inner CTE names carry the kind as
    a prefix so that they never shadow a caller's CTE. -#}

{% macro hubspot_visit_touches(hubspot_contacts, person_keys, source_channels) -%}
with

visit_rows as (
    select
        hubspot_contact_id,
        hs_analytics_source,
        hs_analytics_first_timestamp as touched_at
    from {{ hubspot_contacts }}
    where not is_archived
      and hs_analytics_first_timestamp is not null
),

visit_people as (
    select
        visit_rows.*,
        visit_keys.person_id
    from visit_rows
    inner join {{ person_keys }} as visit_keys
        on visit_keys.record_type = 'hubspot_contact'
        and visit_rows.hubspot_contact_id = visit_keys.record_id
)

select
    'hs_visit:' || visit_people.hubspot_contact_id as touchpoint_id,
    visit_people.person_id,
    visit_people.touched_at,
    'page_visit' as touch_type,
    coalesce(visit_channels.channel, 'other') as channel,
    cast(null as {{ dbt.type_string() }}) as campaign_id
from visit_people
left join {{ source_channels }} as visit_channels
    on upper(trim(visit_people.hs_analytics_source)) = upper(trim(visit_channels.hs_analytics_source))
{%- endmacro %}


{% macro hubspot_form_touches(submissions, forms, person_emails, visits, medium_channels) -%}
{%- set demo_forms = var('mql')['demo_request_forms'] %}
with

form_matched as (
    select
        form_submissions.form_submission_key,
        form_submissions.form_guid,
        form_submissions.submitted_at,
        form_submissions.submitted_at_ms,
        form_submissions.page_url,
        form_emails.person_id
    from {{ submissions }} as form_submissions
    inner join {{ person_emails }} as form_emails
        on {{ staged_email_normalized('form_submissions.email_normalized', 'form_submissions.email') }}
            = form_emails.email_normalized
    where form_submissions.submitted_at is not null
),

form_first_visit_channels as (
    select
        person_id,
        channel as first_visit_channel
    from {{ visits }}
    qualify row_number() over (partition by person_id order by touched_at, touchpoint_id) = 1
),

form_classified as (
    select
        form_matched.*,
        form_names.form_name,
        case
            when {% for form in demo_forms -%}
                contains(lower(coalesce(form_names.form_name, '')), lower('{{ form | replace("'", "''") }}'))
                {%- if not loop.last %} or {% endif %}
            {%- else -%}
                false
            {%- endfor %}
                then 'demo_request'
            else 'form_submission'
        end as touch_type,
        lower(trim(url_decode(
            regexp_extract(form_matched.page_url, '[?&]utm_medium=([^&#]*)', 1, 'i')
        ))) as utm_medium
    from form_matched
    left join {{ forms }} as form_names
        on form_matched.form_guid = form_names.form_guid
),

form_channelled as (
    select
        'hs_form:' || form_classified.form_guid || ':'
            || cast(form_classified.submitted_at_ms as {{ dbt.type_string() }})
            || ':' || form_classified.person_id as touchpoint_id,
        form_classified.person_id,
        form_classified.submitted_at as touched_at,
        form_classified.touch_type,
        coalesce(form_medium_channels.channel, form_first_visit_channels.first_visit_channel, 'other') as channel,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        form_classified.form_submission_key
    from form_classified
    left join {{ medium_channels }} as form_medium_channels
        on form_classified.utm_medium = lower(trim(form_medium_channels.utm_medium))
    left join form_first_visit_channels
        on form_classified.person_id = form_first_visit_channels.person_id
),

form_deduplicated as (
    select * from form_channelled
    qualify row_number() over (partition by touchpoint_id order by form_submission_key) = 1
)

select
    touchpoint_id,
    person_id,
    touched_at,
    touch_type,
    channel,
    campaign_id
from form_deduplicated
{%- endmacro %}


{% macro hubspot_email_touches(email_events, person_emails) -%}
with

email_typed as (
    select
        email_event_id,
        created_at as touched_at,
        {{ staged_email_normalized('recipient_normalized', 'recipient') }} as recipient_normalized,
        case upper(trim(event_type))
            when 'CLICK' then 'email_click'
            when 'OPEN' then 'email_open'
        end as touch_type
    from {{ email_events }}
    where email_event_id is not null
      and created_at is not null
)

select
    'hs_email:' || email_typed.email_event_id as touchpoint_id,
    email_people.person_id,
    email_typed.touched_at,
    email_typed.touch_type,
    'email' as channel,
    cast(null as {{ dbt.type_string() }}) as campaign_id
from email_typed
inner join {{ person_emails }} as email_people
    on email_typed.recipient_normalized = email_people.email_normalized
where email_typed.touch_type is not null
{%- endmacro %}


{% macro campaign_member_touches(campaign_members, campaigns, person_keys, campaign_type_touches) -%}
with

member_responses as (
    select
        members.campaign_member_id,
        members.campaign_id,
        members.lead_id,
        members.contact_id,
        coalesce(
            cast(members.first_responded_date as timestamp),
            members.created_date
        ) as touched_at,
        member_campaigns.type as campaign_type
    from {{ campaign_members }} as members
    left join {{ campaigns }} as member_campaigns
        on members.campaign_id = member_campaigns.campaign_id
    where members.has_responded
      and not members.is_deleted
      -- a deleted campaign takes its responses out; one missing from the extract has no type
      and not coalesce(member_campaigns.is_deleted, false)
),

member_people as (
    select
        member_responses.*,
        coalesce(member_lead_keys.person_id, member_contact_keys.person_id) as person_id
    from member_responses
    left join {{ person_keys }} as member_lead_keys
        on member_lead_keys.record_type = 'lead'
        and member_responses.lead_id = member_lead_keys.record_id
    left join {{ person_keys }} as member_contact_keys
        on member_contact_keys.record_type = 'contact'
        and member_responses.contact_id = member_contact_keys.record_id
)

select
    'sf_cm:' || member_people.campaign_member_id as touchpoint_id,
    member_people.person_id,
    member_people.touched_at,
    coalesce(member_type_touches.touch_type, 'form_submission') as touch_type,
    coalesce(member_type_touches.channel, 'other') as channel,
    member_people.campaign_id
from member_people
left join {{ campaign_type_touches }} as member_type_touches
    on lower(trim(member_people.campaign_type)) = lower(trim(member_type_touches.campaign_type))
where member_people.person_id is not null
  and member_people.touched_at is not null
{%- endmacro %}
