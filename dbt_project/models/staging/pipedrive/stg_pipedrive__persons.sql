{{ stage_landed_api_contacts(source('pipedrive', 'persons'), extra_columns=[
    "try_cast(json_extract_string(record, '$.org_id') as bigint) as organization_id",
    "try_cast(json_extract_string(record, '$.owner_id') as bigint) as owner_id",
    "json_extract(record, '$.custom_fields') as custom_fields",
]) }}
