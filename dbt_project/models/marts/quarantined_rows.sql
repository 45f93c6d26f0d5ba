with

spreadsheet_contacts as (

    select * from {{ ref('stg_spreadsheets__contacts') }}
    where is_rejected

),

form_submissions as (

    select * from {{ ref('stg_forms__submissions') }}
    where is_rejected

),

unioned as (

    select
        source,
        source_record_id,
        source_file,
        source_sheet,
        source_row,
        rejection_reason as reason,
        raw_row,
        loaded_at,
        load_id
    from spreadsheet_contacts

    union all

    select
        source,
        source_record_id,
        source_file,
        source_sheet,
        source_row,
        rejection_reason as reason,
        raw_row,
        loaded_at,
        load_id
    from form_submissions

)

select * from unioned
