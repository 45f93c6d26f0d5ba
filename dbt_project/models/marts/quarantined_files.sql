with

quarantined as (

    select * from {{ ref('stg_quarantine__files') }}

),

spreadsheet_contacts as (

    select * from {{ ref('stg_spreadsheets__contacts') }}

),

form_submissions as (

    select * from {{ ref('stg_forms__submissions') }}

),

landed_files as (

    select
        source as inbox,
        source_file,
        max(loaded_at) as landed_at
    from spreadsheet_contacts
    group by source, source_file

    union all

    select
        source as inbox,
        source_file,
        max(loaded_at) as landed_at
    from form_submissions
    group by source, source_file

),

latest as (

    select * from quarantined
    qualify row_number() over (
        partition by inbox, source_file
        order by quarantined_at desc, load_id desc
    ) = 1

),

final as (

    select
        latest.inbox,
        latest.source_file,
        latest.size_bytes,
        latest.sha256,
        latest.status,
        latest.reason,
        latest.quarantined_at,
        min(landed_files.landed_at) as resolved_at,
        min(landed_files.landed_at) is not null as is_resolved
    from latest
    left join landed_files
        on
            latest.inbox = landed_files.inbox
            and latest.source_file = landed_files.source_file
            and latest.quarantined_at < landed_files.landed_at
    group by all

)

select * from final
