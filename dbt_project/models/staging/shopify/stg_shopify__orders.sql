{% call stage_landed_api_records(source('shopify', 'orders'), 'order_id') %}
    json_extract_string(record, '$.name') as order_name,
    try_cast(json_extract_string(record, '$.customer.id') as bigint) as customer_id,
    lower(json_extract_string(record, '$.financial_status')) as financial_status,
    json_extract_string(record, '$.cancelled_at') is not null as is_cancelled,
    coalesce(try_cast(json_extract_string(record, '$.test') as boolean), false) as is_test,
    try_cast(json_extract_string(record, '$.total_price') as double) as order_value,
    upper(json_extract_string(record, '$.currency')) as currency,
    try_cast(json_extract_string(record, '$.processed_at') as timestamptz) as processed_at,
    try_cast(json_extract_string(record, '$.created_at') as timestamptz) as created_at,
    try_cast(json_extract_string(record, '$.cancelled_at') as timestamptz) as cancelled_at,
{% endcall %}
