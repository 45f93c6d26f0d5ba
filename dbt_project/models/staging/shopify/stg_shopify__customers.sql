{{ stage_landed_api_contacts(source('shopify', 'customers'), extra_columns=[
    "nullif(json_extract_string(record, '$.state'), '') as account_state",
    "try_cast(json_extract_string(record, '$.orders_count') as bigint) as orders_count",
    "nullif(json_extract_string(record, '$.tags'), '') as tags",
]) }}
