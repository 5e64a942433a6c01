{#- Exact days between two timestamps: the difference in seconds / 86400, never rounded. -#}
{% macro days_between(start_ts, end_ts) -%}
    ({{ dbt.datediff(start_ts, end_ts, 'microsecond') }} / cast(86400000000 as double))
{%- endmacro %}

{#- A share or ratio that is null (never 0, never an error) when its denominator is 0 or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}

{#- The attribution models: the suffixes of fct_attribution's weight columns. -#}
{% macro attribution_models() -%}
    {{ return(['first_touch', 'last_touch', 'linear', 'u_shaped', 'w_shaped', 'time_decay']) }}
{%- endmacro %}

{#- A response bucket label as a column-name slug: '<5m' -> 'under_5m', '5-60m' -> '5_60m',
    '>24h' -> 'over_24h'. -#}
{% macro bucket_slug(label) -%}
    {{- return(label | replace('<', 'under_') | replace('>', 'over_') | replace('-', '_') | lower) -}}
{%- endmacro %}

{#- Response bucket labels of alignment.yml plus no_response. -#}
{% macro response_buckets() -%}
    {{ return(var('response_bucket_labels') + ['no_response']) }}
{%- endmacro %}

{#- The segment of an employee count: the segment with the greatest lower bound <= employees
    (var('segments')); 'unknown' when employees are unknown or below every bound. -#}
{% macro segment_of(employees) -%}
    case
        {%- for name, bound in var('segments').items() | sort(attribute=1, reverse=true) %}
        when {{ employees }} >= {{ bound }} then '{{ name }}'
        {%- endfor %}
        else 'unknown'
    end
{%- endmacro %}

{#- Velocity per day: opportunities x win rate x average won amount / average cycle days,
    null when any part is null or the cycle is 0 days. -#}
{% macro velocity_per_day(opportunities, win_rate, avg_won_amount, avg_cycle_days) -%}
    (cast({{ opportunities }} as double) * {{ win_rate }} * {{ avg_won_amount }}
        / nullif({{ avg_cycle_days }}, 0))
{%- endmacro %}
