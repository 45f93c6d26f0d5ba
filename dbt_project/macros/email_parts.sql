{#- The mailbox name of an address without its "+tag", so "info+kr@acme.co" is recognised as a role mailbox. -#}
{% macro email_local_part(email) -%}
    regexp_replace(split_part({{ email }}, '@', 1), '\+.*$', '')
{%- endmacro %}

{% macro email_domain(email) -%}
    split_part({{ email }}, '@', 2)
{%- endmacro %}

{#- The address as the person wrote it, for sending: the first address in the raw cell (mailto: and
    "Name <addr>" unwrapped), trimmed, domain lower-cased, Gmail dots and "+tags" kept; null without one. -#}
{% macro email_as_written(raw) -%}
    nullif(
        regexp_extract({{ raw }}, '([^\s<>:;,"()]+)@([^\s<>:;,"()]+)', 1)
        || '@'
        || lower(regexp_extract({{ raw }}, '([^\s<>:;,"()]+)@([^\s<>:;,"()]+)', 2)),
        '@'
    )
{%- endmacro %}
