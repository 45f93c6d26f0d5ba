{#-
    A record's identity across sources (int_contacts__unioned.record_key): its source, a colon, its id in the
    source. Source names hold no colon (the test on int_contacts__unioned.source says so), so the first
    colon splits a key back into the two: the marts read source and source_record_id off the key instead of
    joining 1M contacts for them.
-#}
{% macro record_key(source, source_record_id) -%}
    {{ source }} || ':' || {{ source_record_id }}
{%- endmacro %}

{% macro record_key_source(record_key) -%}
    split_part({{ record_key }}, ':', 1)
{%- endmacro %}

{% macro record_key_source_record_id(record_key) -%}
    substr({{ record_key }}, strpos({{ record_key }}, ':') + 1)
{%- endmacro %}
