{#-
    The current records of every contact source, accepted or rejected ones, with the given columns.

    Every source of contact records lands in the same shape (connectors/core/landing.py CONTACT_RECORD_SCHEMA),
    so one staging body (stage_landed_contacts) serves them all, and the models downstream take the union
    of their staging models. A new contact source adds its staging model to this list. The buyers of order
    sheets are contact records too (int_orders__buyer_contacts, one per buyer, in the same columns).
-#}
{% macro union_contact_staging(columns, rejected) -%}
    {%- set contact_staging_models = ['stg_spreadsheets__contacts', 'stg_forms__submissions', 'stg_pipedrive__persons', 'stg_typeform__responses', 'stg_hubspot__contacts', 'stg_shopify__customers', 'int_orders__buyer_contacts'] -%}
    {%- for model_name in contact_staging_models %}
    select
        {{ columns | join(',\n        ') }}
    from {{ ref(model_name) }}
    where {{ 'is_rejected' if rejected else 'not is_rejected' }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
