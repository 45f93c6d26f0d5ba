{#- Rank of a source from the `source_priority` var (lower wins); a source missing from the var ranks last. -#}
{% macro source_priority(source_column) -%}
    {%- set priorities = var('source_priority') -%}
    case {{ source_column }}
        {%- for source_name in priorities %}
        when '{{ source_name }}' then {{ priorities[source_name] }}
        {%- endfor %}
        else 999
    end
{%- endmacro %}
