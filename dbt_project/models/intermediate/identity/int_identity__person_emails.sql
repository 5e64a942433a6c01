-- Which person a normalized email address belongs to: one row per normalized email of a
-- non-deleted record. Form submissions and email events find their person here. (Internal
-- only: published tables never carry email.)

with

person_keys as (
    select * from {{ ref('int_person_keys') }}
),

final as (
    select distinct
        email_normalized,
        person_id
    from person_keys
    where email_normalized is not null
)

select * from final
