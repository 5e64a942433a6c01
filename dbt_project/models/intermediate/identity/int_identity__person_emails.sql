-- Which person a normalized email address belongs to: one row per normalized email of a
-- non-deleted record. Form submissions and email events find their person here. (Internal
-- only: published tables never carry email.)

with

records as (
    select * from {{ ref('int_identity__records') }}
),

person_keys as (
    select * from {{ ref('int_person_keys') }}
),

final as (
    select distinct
        records.email_normalized,
        person_keys.person_id
    from records
    inner join person_keys
        on records.record_type = person_keys.record_type
        and records.record_id = person_keys.record_id
    where records.email_normalized is not null
)

select * from final
