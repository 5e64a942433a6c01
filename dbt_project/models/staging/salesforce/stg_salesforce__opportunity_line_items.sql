{{ config(materialized='incremental', incremental_strategy='replace_by_key', on_schema_change='fail',
          unique_key=['opportunity_line_item_id']) }}

with source as (

    {{ changed_raw_rows(source('salesforce', 'opportunitylineitem'), [to_text('Id')], ['opportunity_line_item_id']) }}

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
