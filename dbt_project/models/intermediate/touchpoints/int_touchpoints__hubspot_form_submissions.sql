-- HubSpot form submissions that are touches: one row per distinct
-- 'hs_form:<formGuid>:<submittedAt epoch ms>:<person_id>'. The person is the one whose
-- normalized email equals the submission's (normalized) `email` value; submissions without one
-- are counted in int_touchpoints__unmatched_form_submissions instead.
-- Type: `demo_request` when the form's name contains one of mql.demo_request_forms (any
-- case), else `form_submission`. Channel: the pageUrl's utm_medium through seed
-- utm_medium_channels, else the person's first-visit channel (the channel of the person's
-- earliest hs_visit touch), else `other`.

{%- set demo_forms = var('mql')['demo_request_forms'] %}

with

submissions as (
    select * from {{ ref('stg_hubspot__form_submissions') }}
),

forms as (
    select * from {{ ref('stg_hubspot__forms') }}
),

person_emails as (
    select * from {{ ref('int_identity__person_emails') }}
),

visits as (
    select * from {{ ref('int_touchpoints__hubspot_visits') }}
),

medium_channels as (
    select * from {{ ref('utm_medium_channels') }}
),

matched as (
    select
        submissions.form_submission_key,
        submissions.form_guid,
        submissions.submitted_at,
        submissions.submitted_at_ms,
        submissions.page_url,
        person_emails.person_id
    from submissions
    inner join person_emails
        on {{ normalize_email('submissions.email') }} = person_emails.email_normalized
    where submissions.submitted_at is not null
),

first_visit_channels as (
    select
        person_id,
        channel as first_visit_channel
    from visits
    qualify row_number() over (partition by person_id order by touched_at, touchpoint_id) = 1
),

classified as (
    select
        matched.*,
        forms.form_name,
        case
            when {% for form in demo_forms -%}
                contains(lower(coalesce(forms.form_name, '')), lower('{{ form | replace("'", "''") }}'))
                {%- if not loop.last %} or {% endif %}
            {%- else -%}
                false
            {%- endfor %}
                then 'demo_request'
            else 'form_submission'
        end as touch_type,
        lower(trim(url_decode(
            regexp_extract(matched.page_url, '[?&]utm_medium=([^&#]*)', 1, 'i')
        ))) as utm_medium
    from matched
    left join forms
        on matched.form_guid = forms.form_guid
),

channelled as (
    select
        'hs_form:' || classified.form_guid || ':' || cast(classified.submitted_at_ms as {{ dbt.type_string() }})
            || ':' || classified.person_id as touchpoint_id,
        classified.person_id,
        classified.submitted_at as touched_at,
        classified.touch_type,
        coalesce(medium_channels.channel, first_visit_channels.first_visit_channel, 'other') as channel,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        classified.form_submission_key
    from classified
    left join medium_channels
        on classified.utm_medium = lower(trim(medium_channels.utm_medium))
    left join first_visit_channels
        on classified.person_id = first_visit_channels.person_id
),

deduplicated as (
    select * from channelled
    qualify row_number() over (partition by touchpoint_id order by form_submission_key) = 1
),

final as (
    select
        touchpoint_id,
        person_id,
        touched_at,
        touch_type,
        channel,
        campaign_id
    from deduplicated
)

select * from final
