-- One row per person with the attributes the funnel reports by. Each field is the first
-- non-null value in priority order: the person's latest non-deleted lead (by CreatedDate,
-- tie: greatest Id), else the person's latest non-deleted contact (same ordering) and that
-- contact's non-deleted account. (HubSpot contacts carry none of these fields.)
-- `is_fit` applies alignment.yml's mql.fit rule.

{%- set fit = var('mql')['fit'] %}

with

person_keys as (
    select * from {{ ref('int_person_keys') }}
),

leads as (
    select * from {{ ref('stg_salesforce__leads') }}
),

contacts as (
    select * from {{ ref('stg_salesforce__contacts') }}
),

accounts as (
    select * from {{ ref('stg_salesforce__accounts') }}
    where not is_deleted
),

persons as (
    select distinct person_id from person_keys
),

person_leads as (
    select
        person_keys.person_id,
        leads.*,
        row_number() over (
            partition by person_keys.person_id
            order by leads.created_date desc nulls last, leads.lead_id desc
        ) as recency_rank
    from person_keys
    inner join leads
        on person_keys.record_type = 'lead'
        and person_keys.record_id = leads.lead_id
),

latest_lead as (
    select * from person_leads where recency_rank = 1
),

person_contacts as (
    select
        person_keys.person_id,
        contacts.*,
        row_number() over (
            partition by person_keys.person_id
            order by contacts.created_date desc nulls last, contacts.contact_id desc
        ) as recency_rank
    from person_keys
    inner join contacts
        on person_keys.record_type = 'contact'
        and person_keys.record_id = contacts.contact_id
),

latest_contact as (
    select
        person_contacts.person_id,
        person_contacts.owner_id,
        person_contacts.account_id,
        person_contacts.lead_source,
        accounts.number_of_employees,
        accounts.industry,
        accounts.billing_country
    from person_contacts
    left join accounts
        on person_contacts.account_id = accounts.account_id
    where person_contacts.recency_rank = 1
),

attributes as (
    select
        persons.person_id,
        coalesce(latest_lead.owner_id, latest_contact.owner_id) as owner_id,
        coalesce(latest_lead.converted_account_id, latest_contact.account_id) as account_id,
        coalesce(latest_lead.lead_source, latest_contact.lead_source) as lead_source,
        coalesce(latest_lead.number_of_employees, latest_contact.number_of_employees) as employees,
        coalesce(latest_lead.industry, latest_contact.industry) as industry,
        coalesce(latest_lead.country, latest_contact.billing_country) as country
    from persons
    left join latest_lead
        on persons.person_id = latest_lead.person_id
    left join latest_contact
        on persons.person_id = latest_contact.person_id
),

fit as (
    select
        *,
        (
            {% if fit['min_employees'] | float > 0 -%}
            coalesce(employees >= {{ fit['min_employees'] }}, false)
            {%- else -%}
            true
            {%- endif %}
            {% if fit['industries'] | length > 0 -%}
            and coalesce(industry in ({{ sql_string_list(fit['industries']) }}), false)
            {%- endif %}
            {% if fit['countries'] | length > 0 -%}
            and coalesce(country in ({{ sql_string_list(fit['countries']) }}), false)
            {%- endif %}
        ) as is_fit
    from attributes
),

final as (
    select
        person_id,
        account_id,
        owner_id,
        lead_source,
        employees,
        industry,
        country,
        is_fit
    from fit
)

select * from final
