-- How many HubSpot form submissions are not touches because no person could be found: one row,
-- split by reason (SPEC 1.2: counted, never dropped from raw). A view: the count is made when it
-- is read, instead of matching every submission to the people's emails every night (0.15 s at
-- 1M people) for a table nothing in the nightly run reads.

{{ config(materialized='view') }}

with

submissions as (
    select
        form_submission_key,
        {{ staged_email_normalized('email_normalized', 'email') }} as email_normalized
    from {{ ref('stg_hubspot__form_submissions') }}
),

person_emails as (
    select * from {{ ref('int_identity__person_emails') }}
),

matched_to_person as (
    select
        submissions.form_submission_key,
        submissions.email_normalized,
        person_emails.person_id
    from submissions
    left join person_emails
        on submissions.email_normalized = person_emails.email_normalized
),

final as (
    select
        count(*) filter (where person_id is null) as unmatched_form_submissions,
        count(*) filter (where email_normalized is null) as without_email,
        count(*) filter (where email_normalized is not null and person_id is null) as with_unknown_email,
        count(*) as form_submissions
    from matched_to_person
)

select * from final
