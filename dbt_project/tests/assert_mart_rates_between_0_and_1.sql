-- Every rate and share a mart publishes is in [0, 1] (or null when its denominator is 0).
{%- set rates = {
    'mart_funnel_conversion': ['lead_to_mql', 'mql_to_sal', 'sal_to_sql', 'sql_to_opportunity', 'opportunity_to_won'],
    'mart_pipeline_velocity': ['win_rate'],
    'mart_lead_quality': ['definition_agreement_rate'],
    'mart_content_by_stage': ['win_rate'],
    'mart_discount_friction': ['win_rate_up_to_10', 'win_rate_10_to_max', 'win_rate_over_max'],
    'mart_alignment_scorecard': ['sal_rate', 'sla_met_rate', 'mql_to_opportunity_rate',
        'marketing_sourced_pipeline_share', 'influenced_revenue_share', 'win_rate'],
} %}
{%- set speed_rates = [] %}
{%- for bucket in response_buckets() %}
    {%- do speed_rates.append('mql_to_sql_rate_' ~ bucket_slug(bucket)) %}
{%- endfor %}
{%- do rates.update({'mart_speed_to_lead': ['sla_met_rate'] + speed_rates}) %}

{%- for model, columns in rates.items() %}
{%- for column in columns %}
select '{{ model }}' as mart, '{{ column }}' as rate_column, {{ column }} as value
from {{ ref(model) }}
where {{ column }} < 0 or {{ column }} > 1
{{ 'union all' if not loop.last }}
{%- endfor %}
{{ 'union all' if not loop.last }}
{%- endfor %}
