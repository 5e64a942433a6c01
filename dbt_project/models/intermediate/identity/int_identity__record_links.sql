-- Links that make two records one person even when their emails differ: a converted lead and
-- its contact (Lead.ConvertedContactId), and a HubSpot contact and the Salesforce lead or
-- contact it names (salesforceleadid / salesforcecontactid). Only links between two
-- non-deleted records count. One row per link, between the records' identity-graph nodes.

with

records as (
    select * from {{ ref('int_identity__records') }}
),

leads as (
    select * from {{ ref('stg_salesforce__leads') }}
),

hubspot_contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
),

converted_lead_links as (
    select
        'converted_lead' as link_type,
        'lead:' || lead_id as from_record_key,
        'contact:' || converted_contact_id as to_record_key
    from leads
    where not is_deleted
      and converted_contact_id is not null
),

hubspot_lead_links as (
    select
        'hubspot_salesforce_lead' as link_type,
        'hubspot_contact:' || hubspot_contact_id as from_record_key,
        'lead:' || salesforceleadid as to_record_key
    from hubspot_contacts
    where not is_archived
      and nullif(trim(salesforceleadid), '') is not null
),

hubspot_contact_links as (
    select
        'hubspot_salesforce_contact' as link_type,
        'hubspot_contact:' || hubspot_contact_id as from_record_key,
        'contact:' || salesforcecontactid as to_record_key
    from hubspot_contacts
    where not is_archived
      and nullif(trim(salesforcecontactid), '') is not null
),

links as (
    select * from converted_lead_links
    union all
    select * from hubspot_lead_links
    union all
    select * from hubspot_contact_links
),

between_live_records as (
    select
        links.link_type,
        links.from_record_key,
        links.to_record_key,
        from_records.node_id as from_node_id,
        to_records.node_id as to_node_id
    from links
    inner join records as from_records
        on links.from_record_key = from_records.record_key
    inner join records as to_records
        on links.to_record_key = to_records.record_key
),

final as (
    select * from between_live_records
    where from_node_id <> to_node_id
)

select * from final
