-- One row per order-sheet row, current version only, with the contact keys of its buyer. A file landed again
-- replaces its earlier version as a whole, as for contacts (stage_landed_contacts): only its latest batch
-- counts. Like a contact list emptied of rows, a file re-landed without its order sheet (or with the sheet
-- emptied) lands zero order rows, which cannot replace anything: its earlier orders stay until the file is
-- dropped again with the rows it should have.
--
-- buyer_record_id names the buyer as a contact record (int_orders__buyer_contacts): one per distinct email,
-- phone and name, so every order of one buyer is one record. It is null when the row has neither a valid
-- email nor a valid phone: a name alone is not a contact record.
with

source as (

    select * from {{ source('spreadsheets', 'orders') }}

),

versioned as (

    select
        *,
        min(_loaded_at) over (partition by _source, source_record_id) as first_loaded_at,
        _load_id = first_value(_load_id) over (
            partition by _source, _source_file
            order by _loaded_at desc, _load_id desc
        ) as is_latest_file_version
    from source

),

renamed as (

    select
        _source as source,
        source_record_id,
        _load_id as load_id,
        _loaded_at as loaded_at,
        first_loaded_at,
        _source_file as source_file,
        _source_sheet as source_sheet,
        _source_row as source_row,
        nullif(trim(order_id), '') as order_id,
        ordered_at,
        cast(amount as decimal(20, 4)) as amount,
        upper(currency) as currency,
        nullif(trim(product), '') as product,
        quantity,
        nullif(trim(full_name), '') as full_name,
        nullif(trim(email), '') as email,
        nullif(trim(phone), '') as phone,
        phone_type,
        nullif(trim(company), '') as company,
        raw_ordered_at,
        raw_amount,
        raw_currency,
        raw_quantity,
        raw_name,
        raw_email,
        raw_phone,
        raw_company,
        raw_row,
        attributes,
        field_issues,
        rejection_reason,
        rejection_reason is not null as is_rejected
    from versioned
    where is_latest_file_version

),

keyed as (

    select
        *,
        {{ contact_key_columns() }},
        {{ company_key('company') }} as company_key,
        coalesce(amount < 0, false) as is_refund
    from renamed

),

final as (

    select
        *,
        case
            when email is not null or phone is not null
                then 'order-buyer:' || left(md5(concat_ws('|', coalesce(email, ''), coalesce(phone, ''), coalesce(name_key, ''))), 16)
        end as buyer_record_id
    from keyed

)

select * from final
