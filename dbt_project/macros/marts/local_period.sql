{#- The calendar period (day, week, month, ...) of a naive UTC timestamp in var('timezone'),
    as a date: the period's first day. Weeks start on Monday (ISO weeks). -#}
{% macro local_period(part, ts) -%}
    cast({{ dbt.date_trunc(part, to_local_time(ts)) }} as date)
{%- endmacro %}

{#- A naive UTC timestamp as naive wall-clock time in var('timezone'). -#}
{% macro to_local_time(ts) -%}
    {%- set zone = var('timezone') -%}
    {%- if zone in ('UTC', 'Etc/UTC') -%}
        cast({{ ts }} as timestamp)
    {%- else -%}
        timezone('{{ zone }}', timezone('UTC', cast({{ ts }} as timestamp)))
    {%- endif -%}
{%- endmacro %}

{#- The calendar period of a date-only value (e.g. CloseDate): a date is already a calendar
    day, so it is not shifted between time zones. -#}
{% macro date_period(part, day) -%}
    cast({{ dbt.date_trunc(part, 'cast(' ~ day ~ ' as date)') }} as date)
{%- endmacro %}
