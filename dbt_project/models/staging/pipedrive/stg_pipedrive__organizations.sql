-- Industry and size are not standard Pipedrive organization fields; an account keeps them in custom
-- fields, named by the vars pipedrive_organization_industry_field and pipedrive_organization_size_field.
{%- set industry_field = var('pipedrive_organization_industry_field', none) %}
{%- set size_field = var('pipedrive_organization_size_field', none) %}
with

current_versions as (

    {{ latest_api_records(source('pipedrive', 'organizations')) }}

),

final as (

    select
        cast(record_id as bigint) as organization_id,
        nullif(trim(json_extract_string(record, '$.name')), '') as organization_name,
        try_cast(json_extract_string(record, '$.owner_id') as bigint) as owner_id,
        json_extract(record, '$.address') as address,
        {% if industry_field -%}
            nullif(trim(json_extract_string(record, '$.custom_fields."{{ industry_field }}"')), '')
        {%- else -%}
            cast(null as varchar)
        {%- endif %} as industry,
        {% if size_field -%}
            nullif(trim(json_extract_string(record, '$.custom_fields."{{ size_field }}"')), '')
        {%- else -%}
            cast(null as varchar)
        {%- endif %} as company_size,
        json_extract(record, '$.custom_fields') as custom_fields,
        updated_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        first_loaded_at
    from current_versions

)

select * from final
