{#- Rows whose column holds the character: one row per such value. -#}
{% test free_of_character(model, column_name, character) %}

    select {{ column_name }}
    from {{ model }}
    where strpos({{ column_name }}, '{{ character }}') > 0

{% endtest %}
