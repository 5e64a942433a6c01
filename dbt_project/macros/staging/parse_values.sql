{#- Typing raw text (SPEC 1.2). Raw batches hold every source value as text exactly as the
    source wrote it; these macros turn one text expression into a typed value. They never fail
    a build on a bad value (try_cast / try_strptime give null): the files source quarantines
    unparseable records before they land, so a null here means the source sent nothing.
    Empty or blank text is null everywhere. Timestamps come out as naive UTC `timestamp`,
    whatever the session time zone. -#}

{% macro to_text(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}


{% macro to_boolean(expression) -%}
    case lower(trim({{ expression }}))
        when 'true' then true
        when '1' then true
        when 'false' then false
        when '0' then false
    end
{%- endmacro %}


{% macro to_double(expression) -%}
    try_cast({{ to_text(expression) }} as double)
{%- endmacro %}


{% macro to_bigint(expression) -%}
    try_cast({{ to_text(expression) }} as bigint)
{%- endmacro %}


{#- A date written YYYY-MM-DD. -#}
{% macro to_date(expression) -%}
    cast(try_strptime({{ to_text(expression) }}, '%Y-%m-%d') as date)
{%- endmacro %}


{#- Any ISO 8601 date or date-time as naive UTC: a time with an offset or Z is converted to UTC,
    one without (and a bare date) is read as UTC already. -#}
{% macro iso_to_utc_timestamp(expression) -%}
    case
        when regexp_matches({{ to_text(expression) }}, '\d:\d\d.*(Z|[+-]\d\d(:?\d\d)?)$')
            then try_cast({{ to_text(expression) }} as timestamptz) at time zone 'UTC'
        else try_cast({{ to_text(expression) }} as timestamp)
    end
{%- endmacro %}


{#- Salesforce date-times, all UTC: the REST API's `2024-03-05T14:02:11.000+0000`, ISO's
    `2024-03-05T14:02:11Z` and Data Export's `2024-03-05 14:02:11`; any other ISO 8601
    spelling (e.g. Bulk API's `...11.000Z`) through the general ISO reading. -#}
{% macro salesforce_datetime(expression) -%}
    coalesce(
        try_strptime({{ to_text(expression) }}, '%Y-%m-%dT%H:%M:%S.%g%z') at time zone 'UTC',
        try_strptime({{ to_text(expression) }}, '%Y-%m-%dT%H:%M:%SZ'),
        try_strptime({{ to_text(expression) }}, '%Y-%m-%d %H:%M:%S'),
        {{ iso_to_utc_timestamp(expression) }}
    )
{%- endmacro %}


{#- HubSpot times: epoch milliseconds (all digits) or an ISO string. -#}
{% macro hubspot_timestamp(expression) -%}
    case
        when regexp_full_match({{ to_text(expression) }}, '\d+')
            then try(epoch_ms(try_cast({{ to_text(expression) }} as bigint)))
        else {{ iso_to_utc_timestamp(expression) }}
    end
{%- endmacro %}


{#- The same instant as bigint epoch milliseconds. -#}
{% macro hubspot_epoch_ms(expression) -%}
    case
        when regexp_full_match({{ to_text(expression) }}, '\d+')
            then try_cast({{ to_text(expression) }} as bigint)
        else epoch_ms({{ iso_to_utc_timestamp(expression) }})
    end
{%- endmacro %}
