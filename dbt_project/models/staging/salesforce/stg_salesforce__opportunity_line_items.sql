with source as (

    select * from {{ source('salesforce', 'opportunitylineitem') }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as opportunity_line_item_id,
        {{ to_text('OpportunityId') }} as opportunity_id,
        {{ to_text('Product2Id') }} as product2_id,
        {{ to_double('Quantity') }} as quantity,
        {{ to_double('ListPrice') }} as list_price,
        {{ to_double('UnitPrice') }} as unit_price,
        {{ to_double('TotalPrice') }} as total_price,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
