-- Industry and size are not standard Pipedrive organization fields; an account keeps them in custom
-- fields, named by the vars pipedrive_organization_industry_field and pipedrive_organization_size_field.
{%- set industry_field = var('pipedrive_organization_industry_field', none) %}
{%- set size_field = var('pipedrive_organization_size_field', none) %}
{%- set custom_text = "nullif(trim(json_extract_string(record, '$.custom_fields.\"{}\"')), '')" %}
{% call stage_landed_api_records(source('pipedrive', 'organizations'), 'organization_id') %}
    nullif(trim(json_extract_string(record, '$.name')), '') as organization_name,
    try_cast(json_extract_string(record, '$.owner_id') as bigint) as owner_id,
    json_extract(record, '$.address') as address,
    {{ custom_text.format(industry_field) if industry_field else 'cast(null as varchar)' }} as industry,
    {{ custom_text.format(size_field) if size_field else 'cast(null as varchar)' }} as company_size,
    json_extract(record, '$.custom_fields') as custom_fields,
{% endcall %}
