-- Sales activities on people: non-deleted Tasks and Events whose WhoId is one of a person's
-- (non-deleted) lead or contact ids, at their CreatedDate. first_response_at is the first of
-- these at or after the person's mql_at.

with

tasks as (
    select * from {{ ref('stg_salesforce__tasks') }}
),

events as (
    select * from {{ ref('stg_salesforce__events') }}
),

person_keys as (
    select * from {{ ref('int_person_keys') }}
),

activities as (
    select 'task' as activity_type, task_id as activity_id, who_id, created_date as activity_at
    from tasks
    where not is_deleted
    union all
    select 'event' as activity_type, event_id as activity_id, who_id, created_date as activity_at
    from events
    where not is_deleted
),

final as (
    select
        person_keys.person_id,
        activities.activity_type,
        activities.activity_id,
        activities.activity_at
    from activities
    inner join person_keys
        on person_keys.record_type in ('lead', 'contact')
        and activities.who_id = person_keys.record_id
    where activities.activity_at is not null
)

select * from final
