-- Search returns no associations, so a contact's company comes from its latest version landed by a list
-- walk (_cursor list ...): the first sync, and every full refresh, is one.
with

contacts as (

    {{ stage_landed_api_contacts(source('hubspot', 'contacts'), extra_columns=[
        "try_cast(json_extract_string(record, '$.properties.hubspot_owner_id') as bigint) as owner_id",
        "nullif(json_extract_string(record, '$.properties.lifecyclestage'), '') as lifecycle_stage",
    ]) }}

),

listed_versions as (

    select
        record_id,
        json_extract_string(record, '$.associations.companies.results[0].id') as company_id,
        row_number() over (
            partition by record_id
            order by updated_at desc, _loaded_at desc, _load_id desc
        ) as version_rank
    from {{ source('hubspot', 'contacts') }}
    where _cursor like 'list%'

),

final as (

    select
        contacts.*,
        try_cast(listed_versions.company_id as bigint) as company_id
    from contacts
    left join listed_versions
        on
            contacts.source_record_id = listed_versions.record_id
            and listed_versions.version_rank = 1

)

select * from final
