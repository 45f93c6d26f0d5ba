with

current_versions as (

    {{ latest_api_records(source('hubspot', 'companies')) }}

),

final as (

    select
        cast(record_id as bigint) as company_id,
        nullif(trim(json_extract_string(record, '$.properties.name')), '') as company_name,
        nullif(lower(trim(json_extract_string(record, '$.properties.domain'))), '') as domain,
        nullif(trim(json_extract_string(record, '$.properties.industry')), '') as industry,
        try_cast(json_extract_string(record, '$.properties.numberofemployees') as bigint) as employee_count,
        try_cast(json_extract_string(record, '$.properties.hubspot_owner_id') as bigint) as owner_id,
        try_cast(json_extract_string(record, '$.properties.createdate') as timestamptz) as created_at,
        updated_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        first_loaded_at
    from current_versions

)

select * from final
