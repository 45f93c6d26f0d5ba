{#- Rows whose column is not null and does not match the regular expression as a whole. -#}
{% test matches_pattern(model, column_name, pattern) %}

    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and not regexp_full_match({{ column_name }}, '{{ pattern }}')

{% endtest %}
