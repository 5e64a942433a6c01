-- Speed to lead: MQLs by the calendar week of mql_at (Monday, var timezone) and the person's
-- owner. Response times (median, continuous 90th percentile) are over responded people;
-- sla_met_rate = people meeting the SLA / MQLs; per response bucket (var
-- response_bucket_labels, plus no_response) a count and the share of its people with sql_at.

with

lead_funnel as (

    select * from {{ ref('fct_lead_funnel') }}

),

mqls as (

    select
        {{ local_period('week', 'mql_at') }} as week,
        owner_id,
        person_id,
        first_response_at,
        cast(response_minutes as double) as response_minutes,
        response_bucket,
        coalesce(sla_met, false) as sla_met,
        sql_at
    from lead_funnel
    where mql_at is not null

),

weekly as (

    select
        week,
        owner_id,
        count(*) as mqls,
        count(first_response_at) as responded,
        {{ percentile_cont('case when first_response_at is not null then response_minutes end', 0.5) }}
            as median_response_minutes,
        {{ percentile_cont('case when first_response_at is not null then response_minutes end', 0.9) }}
            as p90_response_minutes,
        count(case when sla_met then 1 end) as mqls_sla_met,
        {%- for bucket in response_buckets() %}
        count(case when response_bucket = '{{ bucket }}' then 1 end)
            as mqls_{{ bucket_slug(bucket) }},
        count(case when response_bucket = '{{ bucket }}' and sql_at is not null then 1 end)
            as sqls_{{ bucket_slug(bucket) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from mqls
    group by week, owner_id

),

final as (

    select
        week,
        owner_id,
        mqls,
        responded,
        median_response_minutes,
        p90_response_minutes,
        mqls_sla_met,
        {{ safe_divide('mqls_sla_met', 'mqls') }} as sla_met_rate,
        {%- for bucket in response_buckets() %}
        mqls_{{ bucket_slug(bucket) }},
        {%- endfor %}
        {%- for bucket in response_buckets() %}
        {{ safe_divide('sqls_' ~ bucket_slug(bucket), 'mqls_' ~ bucket_slug(bucket)) }}
            as mql_to_sql_rate_{{ bucket_slug(bucket) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from weekly

)

select * from final
