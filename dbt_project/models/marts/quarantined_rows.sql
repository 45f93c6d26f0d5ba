with

rejected as (

    {{ union_contact_staging([
        'source',
        'source_record_id',
        'source_file',
        'source_sheet',
        'source_row',
        'rejection_reason as reason',
        'raw_row',
        'loaded_at',
        'load_id',
    ], rejected=true) }}

),

orders as (

    select * from {{ ref('stg_spreadsheets__orders') }}

),

order_purchases as (

    select * from {{ ref('int_orders__purchases') }}

),

-- Order rows the reader rejected (no date, amount or buyer), and order-sheet purchases linked to no customer.
rejected_orders as (

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
    from orders
    where is_rejected

    union all

    select
        source,
        source_record_id,
        source_file,
        source_sheet,
        source_row,
        unlinked_reason as reason,
        raw_row,
        loaded_at,
        load_id
    from order_purchases
    where customer_id is null

),

final as (

    select * from rejected
    union all
    select * from rejected_orders

)

select * from final
