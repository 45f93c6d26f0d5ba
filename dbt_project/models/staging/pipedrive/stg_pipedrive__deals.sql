with

current_versions as (

    {{ latest_api_records(source('pipedrive', 'deals')) }}

),

final as (

    select
        cast(record_id as bigint) as deal_id,
        json_extract_string(record, '$.title') as title,
        json_extract_string(record, '$.status') as status,
        try_cast(json_extract_string(record, '$.value') as double) as deal_value,
        upper(json_extract_string(record, '$.currency')) as currency,
        try_cast(json_extract_string(record, '$.person_id') as bigint) as person_id,
        try_cast(json_extract_string(record, '$.org_id') as bigint) as organization_id,
        try_cast(json_extract_string(record, '$.owner_id') as bigint) as owner_id,
        try_cast(json_extract_string(record, '$.pipeline_id') as bigint) as pipeline_id,
        try_cast(json_extract_string(record, '$.stage_id') as bigint) as stage_id,
        coalesce(try_cast(json_extract_string(record, '$.is_archived') as boolean), false) as is_archived,
        try_cast(json_extract_string(record, '$.add_time') as timestamptz) as added_at,
        try_cast(json_extract_string(record, '$.won_time') as timestamptz) as won_at,
        try_cast(json_extract_string(record, '$.lost_time') as timestamptz) as lost_at,
        try_cast(json_extract_string(record, '$.close_time') as timestamptz) as closed_at,
        json_extract(record, '$.custom_fields') as custom_fields,
        updated_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        first_loaded_at
    from current_versions

)

select * from final
