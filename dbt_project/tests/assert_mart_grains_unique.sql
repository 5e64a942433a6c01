-- Each mart has one row per value of its grain.
{%- set grains = {
    'mart_funnel_conversion': ['cohort_month', 'first_channel'],
    'mart_speed_to_lead': ['week', 'owner_id'],
    'mart_pipeline_velocity': ['month', 'segment'],
    'mart_attribution_by_channel': ['month', 'channel', 'model'],
    'mart_campaign_roi': ['campaign_id', 'model'],
    'mart_lead_quality': ['month', 'first_channel'],
    'mart_content_by_stage': ['campaign_id', 'stage'],
    'mart_discount_friction': ['month', 'owner_id'],
    'mart_alignment_scorecard': ['month'],
} %}

{%- for model, grain in grains.items() %}
select '{{ model }}' as mart, count(*) as rows_per_grain
from {{ ref(model) }}
group by {{ grain | join(', ') }}
having count(*) > 1
{{ 'union all' if not loop.last }}
{%- endfor %}
