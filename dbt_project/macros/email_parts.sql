{#- The mailbox name of an address without its "+tag", so "info+kr@acme.co" is recognised as a role mailbox. -#}
{% macro email_local_part(email) -%}
    regexp_replace(split_part({{ email }}, '@', 1), '\+.*$', '')
{%- endmacro %}

{% macro email_domain(email) -%}
    split_part({{ email }}, '@', 2)
{%- endmacro %}
