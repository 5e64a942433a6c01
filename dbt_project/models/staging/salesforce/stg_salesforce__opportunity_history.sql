with source as (

    select * from {{ source('salesforce', 'opportunityhistory') }}

),

current_version as (

    select * from source
    {{ current_version([to_text('Id')], salesforce_datetime('SystemModstamp')) }}

),

final as (

    select
        {{ to_text('Id') }} as opportunity_history_id,
        {{ to_text('OpportunityId') }} as opportunity_id,
        {{ to_text('StageName') }} as stage_name,
        {{ to_double('Amount') }} as amount,
        {{ to_date('CloseDate') }} as close_date,
        {{ salesforce_datetime('CreatedDate') }} as created_date,
        coalesce({{ to_boolean('IsDeleted') }}, false) as is_deleted,
        _loaded_at,
        _batch_id
    from current_version

)

select * from final
