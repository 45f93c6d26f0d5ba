{% macro segment_as_of() -%}
    {#- One instant per invocation: var as_of (orchestration passes DRIPLINE_AS_OF, else now), else the time
        this dbt invocation started, so every model of a run agrees. -#}
    {%- set as_of = var('as_of', none) or run_started_at.isoformat() -%}
    cast('{{ as_of }}' as timestamp with time zone)
{%- endmacro %}


{% macro days_between(start_at, end_at) -%}
    {#- Whole days from start_at to end_at, counted in elapsed time (no calendar or time-zone rules). -#}
    floor((epoch({{ end_at }}) - epoch({{ start_at }})) / 86400)
{%- endmacro %}


{% macro leading_integer(text) -%}
    {#- "50-200" -> 50, "1,000+" -> 1000, "25" -> 25; null when the text has no digits. -#}
    try_cast(nullif(regexp_extract(replace({{ text }}, ',', ''), '[0-9]+'), '') as integer)
{%- endmacro %}


{#- The segment macros read var segments: [{name, priority, rule}, ...], evaluated by priority. Only
    sqlfluff's stand-in for var() gives a string (dbt always gives the YAML list), so lint sees a catch-all;
    each macro sets this up inline because a dbt macro called from another returns only text. -#}


{% macro segment_case() -%}
    {#- The first segment, by priority, whose rule holds; rules stand on lines of their own. -#}
    {%- set segments = var('segments') -%}
    {%- if segments is string %}{% set segments = [{'name': 'segment', 'priority': 1, 'rule': 'true'}] %}{% endif -%}
    {%- if not segments %}{{ exceptions.raise_compiler_error('var segments is empty: pass segments.yml') }}{% endif -%}
    case
    {%- for segment in segments | sort(attribute='priority') %}
        when (
            {{ segment.rule }}
        ) then '{{ segment.name }}'
    {%- endfor %}
    end
{%- endmacro %}


{% macro segment_priority(segment_column) -%}
    {%- set segments = var('segments') -%}
    {%- if segments is string %}{% set segments = [{'name': 'segment', 'priority': 1, 'rule': 'true'}] %}{% endif -%}
    {%- if not segments %}{{ exceptions.raise_compiler_error('var segments is empty: pass segments.yml') }}{% endif -%}
    case {{ segment_column }}
    {%- for segment in segments | sort(attribute='priority') %}
        when '{{ segment.name }}' then {{ segment.priority }}
    {%- endfor %}
    end
{%- endmacro %}


{% macro segment_list() -%}
    {#- A relation of the defined segments: segment, segment_priority. -#}
    {%- set segments = var('segments') -%}
    {%- if segments is string %}{% set segments = [{'name': 'segment', 'priority': 1, 'rule': 'true'}] %}{% endif -%}
    {%- if not segments %}{{ exceptions.raise_compiler_error('var segments is empty: pass segments.yml') }}{% endif -%}
    {%- for segment in segments | sort(attribute='priority') %}
    select
        '{{ segment.name }}' as segment,
        {{ segment.priority }} as segment_priority
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{% macro deal_value_tier(value_column, currency_column) -%}
    {#- The tier one deal puts its account in, from var account_tier_deal_value (thresholds per currency);
        null for a currency without thresholds. -#}
    {%- if not var('account_tier_deal_value', {}) -%}
    cast(null as integer)
    {%- else %}
    case
    {%- set thresholds = var('account_tier_deal_value') %}
    {%- for currency in thresholds %}
        when {{ currency_column }} = '{{ currency }}' then
            case
                when {{ value_column }} >= {{ thresholds[currency]['large'] }} then 3
                when {{ value_column }} >= {{ thresholds[currency]['mid'] }} then 2
                when {{ value_column }} is not null then 1
            end
    {%- endfor %}
    end
    {%- endif %}
{%- endmacro %}
