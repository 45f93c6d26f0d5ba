{% call stage_landed_api_records(source('hubspot', 'companies'), 'company_id') %}
    nullif(trim(json_extract_string(record, '$.properties.name')), '') as company_name,
    nullif(lower(trim(json_extract_string(record, '$.properties.domain'))), '') as domain,
    nullif(trim(json_extract_string(record, '$.properties.industry')), '') as industry,
    try_cast(json_extract_string(record, '$.properties.numberofemployees') as bigint) as employee_count,
    try_cast(json_extract_string(record, '$.properties.hubspot_owner_id') as bigint) as owner_id,
    try_cast(json_extract_string(record, '$.properties.createdate') as timestamptz) as created_at,
{% endcall %}
