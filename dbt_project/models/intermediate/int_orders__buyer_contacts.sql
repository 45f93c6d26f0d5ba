-- The buyers of the order sheets as contact records, so they resolve to customers through the same identity
-- rules as every other contact (they join int_contacts__unioned through union_contact_staging): a buyer
-- who appears only in an order sheet still becomes a customer.
--
-- One record per buyer_record_id (distinct email, phone and name), not one per order row: a buyer with forty
-- orders is one record, so record_count counts the ways a customer was recorded, not their orders (those are
-- purchase_count). The record holds the values of the buyer's latest order (company: the latest one given)
-- and is dated by it (record_at), so survivorship treats it as what the customer wrote at that order; it
-- first landed with the buyer's first order row, which keeps customer ids stable. A buyer with a name only
-- (no valid email or phone) is no contact record: a name alone never joins. int_orders__purchases links
-- such orders when the name identifies exactly one customer.
with

orders as (

    select * from {{ ref('stg_spreadsheets__orders') }}

),

buyer_rows as (

    select
        *,
        row_number() over (
            partition by buyer_record_id
            order by ordered_at desc, loaded_at desc, source_record_id desc
        ) as recency_rank
    from orders
    where not is_rejected and buyer_record_id is not null

),

buyers as (

    select
        buyer_record_id,
        min(first_loaded_at) as first_loaded_at,
        max(loaded_at) as loaded_at,
        max(ordered_at) as last_ordered_at,
        min_by(company, recency_rank) filter (where company is not null) as company,
        min_by(raw_company, recency_rank) filter (where company is not null) as raw_company
    from buyer_rows
    group by buyer_record_id

),

final as (

    select
        buyer_rows.source,
        buyer_rows.buyer_record_id as source_record_id,
        buyer_rows.load_id,
        buyers.loaded_at,
        buyers.first_loaded_at,
        buyer_rows.source_file,
        buyer_rows.source_sheet,
        buyer_rows.source_row,
        buyers.last_ordered_at as record_at,
        buyer_rows.full_name,
        buyer_rows.name_key,
        buyer_rows.email,
        buyer_rows.email_local_part,
        buyer_rows.email_domain,
        buyer_rows.phone,
        buyer_rows.phone_type,
        buyers.company,
        cast(null as boolean) as consent_email,
        cast(null as varchar) as birthday,
        buyer_rows.raw_name,
        buyer_rows.raw_email,
        buyer_rows.raw_phone,
        buyers.raw_company,
        cast(null as varchar) as raw_consent_email,
        cast(null as varchar) as raw_birthday,
        buyer_rows.raw_row,
        buyer_rows.attributes,
        buyer_rows.field_issues,
        cast(null as varchar) as rejection_reason,
        false as is_rejected
    from buyer_rows
    inner join buyers
        on buyer_rows.buyer_record_id = buyers.buyer_record_id
    where buyer_rows.recency_rank = 1

)

select * from final
