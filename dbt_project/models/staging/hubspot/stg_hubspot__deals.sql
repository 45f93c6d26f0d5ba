-- Search returns no associations, so a deal's contacts and companies come from its latest version landed
-- by a list walk (_cursor list ...): the first sync, and every full refresh, is one.
with

current_versions as (

    {{ latest_api_records(source('hubspot', 'deals')) }}

),

listed_versions as (

    select
        record_id,
        json_extract(record, '$.associations') as associations,
        row_number() over (
            partition by record_id
            order by updated_at desc, _loaded_at desc, _load_id desc
        ) as version_rank
    from {{ source('hubspot', 'deals') }}
    where _cursor like 'list%'

),

final as (

    select
        cast(current_versions.record_id as bigint) as deal_id,
        json_extract_string(current_versions.record, '$.properties.dealname') as deal_name,
        json_extract_string(current_versions.record, '$.properties.dealstage') as deal_stage,
        json_extract_string(current_versions.record, '$.properties.pipeline') as pipeline,
        coalesce(
            try_cast(json_extract_string(current_versions.record, '$.properties.hs_is_closed_won') as boolean),
            json_extract_string(current_versions.record, '$.properties.dealstage') = 'closedwon'
        ) as is_closed_won,
        try_cast(json_extract_string(current_versions.record, '$.properties.amount') as double) as deal_value,
        upper(json_extract_string(current_versions.record, '$.properties.deal_currency_code')) as currency,
        try_cast(json_extract_string(current_versions.record, '$.properties.closedate') as timestamptz) as closed_at,
        try_cast(
            json_extract_string(current_versions.record, '$.properties.hubspot_owner_id') as bigint
        ) as owner_id,
        try_cast(json_extract_string(listed_versions.associations, '$.contacts.results[0].id') as bigint)
            as primary_contact_id,
        json_extract_string(listed_versions.associations, '$.contacts.results[*].id') as contact_ids,
        try_cast(json_extract_string(listed_versions.associations, '$.companies.results[0].id') as bigint)
            as company_id,
        listed_versions.record_id is not null as has_associations,
        current_versions.updated_at,
        current_versions._load_id as load_id,
        current_versions._loaded_at as loaded_at,
        current_versions.first_loaded_at
    from current_versions
    left join listed_versions
        on
            current_versions.record_id = listed_versions.record_id
            and listed_versions.version_rank = 1

)

select * from final
