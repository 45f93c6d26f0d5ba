-- One row per purchase read from order sheets, with the customer it belongs to, or why it has none.
--
-- What one purchase is. An order id names one order whatever file it is in, so its purchase_key
-- (spreadsheets:order=<id>) does not change when the order is exported again into another file; the rows of
-- one order id are its lines (one per product, and refund lines with negative amounts). A row without an
-- order id is identified by what it says, its buyer and order time (spreadsheets:receipt=<hash of the
-- order time in epoch milliseconds, email, phone and name key>: independent of the session time zone), and the
-- rows of one buyer at one order time are one purchase. Files overlap (a monthly export and a quarterly one
-- holding the same orders), so a line (product, quantity, amount, currency) counts as many times as the one
-- (file, sheet) listing it most often lists it, not once per file: a re-exported order counts once, and a
-- refund line that only the later export holds still nets against it. purchase_value is the sum of the
-- lines when they share one currency, else null (a KRW line plus a USD line has no total) with a null
-- currency. purchased_at is the earliest line that is not a refund.
--
-- purchase_status: 'purchase' when something was bought and not all given back (the lines net above zero, or
-- an order of only non-negative lines, a free one included); 'refunded' when refund lines cancel it out;
-- 'refund_only' for refund lines whose order is in no sheet. Only purchases reach int_customers__purchases.
--
-- Linking to a customer follows the identity rules: the buyer is a contact record (int_orders__buyer_contacts)
-- whenever some line of the order gives a valid email or phone, and the order belongs to that record's
-- customer (link_rule 'buyer'). A buyer with a name only never joins anyone, under the rule that a name
-- alone identifies no one; the order is linked only when that name (name_key), together with the company
-- when the order names one (company_key, on the same record), is carried by the records of exactly one
-- customer (link_rule 'name' or 'name_company'). Otherwise customer_id is null and unlinked_reason says why;
-- quarantined_rows lists these orders.
with

orders as (

    select * from {{ ref('stg_spreadsheets__orders') }}

),

customer_ids as (

    select * from {{ ref('int_identity__customer_ids') }}

),

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

lines as (

    select
        *,
        case
            when order_id is not null then 'order=' || order_id
            else
                'receipt='
                || left(
                    md5(
                        concat_ws(
                            '|',
                            cast(epoch_ms(ordered_at) as varchar),
                            coalesce(email, ''),
                            coalesce(phone, ''),
                            coalesce(name_key, '')
                        )
                    ),
                    16
                )
        end as order_key,
        concat_ws(
            '|',
            coalesce(product, ''),
            coalesce(cast(quantity as varchar), ''),
            cast(amount as varchar),
            coalesce(currency, '')
        ) as line_signature
    from orders
    where not is_rejected

),

line_copies as (

    select
        order_key,
        line_signature,
        source_file,
        source_sheet,
        count(*) as copies
    from lines
    group by order_key, line_signature, source_file, source_sheet

),

line_counts as (

    select
        order_key,
        line_signature,
        max(copies) as line_count
    from line_copies
    group by order_key, line_signature

),

distinct_lines as (

    select
        lines.order_key,
        lines.line_signature,
        line_counts.line_count,
        min_by(lines.amount, lines.source_record_id) as amount,
        min_by(lines.currency, lines.source_record_id) as currency,
        bool_or(lines.is_refund) as is_refund,
        min(lines.ordered_at) as ordered_at
    from lines
    inner join line_counts
        on
            lines.order_key = line_counts.order_key
            and lines.line_signature = line_counts.line_signature
    group by lines.order_key, lines.line_signature, line_counts.line_count

),

order_totals as (

    select
        order_key,
        sum(line_count) as line_count,
        count(distinct currency) as currency_count,
        min(currency) as any_currency,
        sum(amount * line_count) as net_amount,
        bool_or(is_refund) as has_refund,
        bool_and(is_refund) as is_refund_only,
        coalesce(min(ordered_at) filter (where not is_refund), min(ordered_at)) as purchased_at
    from distinct_lines
    group by order_key

),

-- The row that locates an order is its earliest line that is no refund; its buyer is the buyer of the
-- earliest line giving a contact record, so a phone on any line of the order identifies who bought.
ranked_lines as (

    select
        *,
        row_number() over (
            partition by order_key
            order by is_refund, ordered_at, source_record_id
        ) as locator_rank,
        row_number() over (
            partition by order_key
            order by buyer_record_id is null, is_refund, ordered_at, source_record_id
        ) as buyer_rank
    from lines

),

order_buyers as (

    select
        order_key,
        buyer_record_id
    from ranked_lines
    where buyer_rank = 1

),

located as (

    select
        ranked_lines.order_key,
        order_buyers.buyer_record_id,
        ranked_lines.order_id,
        ranked_lines.source,
        ranked_lines.source_record_id,
        ranked_lines.source_file,
        ranked_lines.source_sheet,
        ranked_lines.source_row,
        ranked_lines.load_id,
        ranked_lines.loaded_at,
        ranked_lines.raw_row,
        ranked_lines.full_name,
        ranked_lines.name_key,
        ranked_lines.company,
        ranked_lines.company_key
    from ranked_lines
    inner join order_buyers
        on ranked_lines.order_key = order_buyers.order_key
    where ranked_lines.locator_rank = 1

),

name_candidates as (

    select distinct
        contacts.name_key,
        {{ company_key('contacts.company') }} as company_key,
        customer_ids.customer_id
    from contacts
    inner join customer_ids
        on contacts.record_key = customer_ids.record_key
    where contacts.name_key is not null

),

name_matches as (

    select
        located.order_key,
        count(distinct name_candidates.customer_id) as customer_count,
        min(name_candidates.customer_id) as customer_id
    from located
    inner join name_candidates
        on
            located.name_key = name_candidates.name_key
            and (located.company_key is null or located.company_key = name_candidates.company_key)
    where located.buyer_record_id is null
    group by located.order_key

),

linked as (

    select
        located.*,
        order_totals.line_count,
        order_totals.purchased_at,
        case when order_totals.currency_count = 1 then order_totals.net_amount end as purchase_value,
        case when order_totals.currency_count = 1 then order_totals.any_currency end as currency,
        order_totals.has_refund,
        case
            when order_totals.is_refund_only then 'refund_only'
            when order_totals.has_refund and order_totals.net_amount <= 0 then 'refunded'
            else 'purchase'
        end as purchase_status,
        coalesce(
            buyer_customers.customer_id,
            case when name_matches.customer_count = 1 then name_matches.customer_id end
        ) as customer_id,
        case
            when buyer_customers.customer_id is not null then 'buyer'
            when name_matches.customer_count = 1 and located.company_key is not null then 'name_company'
            when name_matches.customer_count = 1 then 'name'
        end as link_rule,
        coalesce(name_matches.customer_count, 0) as name_match_count
    from located
    inner join order_totals
        on located.order_key = order_totals.order_key
    left join customer_ids as buyer_customers
        on {{ record_key('located.source', 'located.buyer_record_id') }} = buyer_customers.record_key
    left join name_matches
        on located.order_key = name_matches.order_key

),

final as (

    select
        source || ':' || order_key as purchase_key,
        source,
        order_id,
        customer_id,
        link_rule,
        purchase_status,
        purchased_at,
        purchase_value,
        currency,
        line_count,
        has_refund,
        buyer_record_id,
        full_name,
        company,
        source_record_id,
        source_file,
        source_sheet,
        source_row,
        load_id,
        loaded_at,
        raw_row,
        case
            when customer_id is null
                then
                    source_file
                    || coalesce(' sheet ''' || source_sheet || '''', '')
                    || ' row ' || source_row
                    || ': the buyer '
                    || coalesce('''' || full_name || '''', '(no name)')
                    || coalesce(' of ''' || company || '''', '')
                    || case
                        when buyer_record_id is not null then ' has a contact record that belongs to no customer'
                        when name_match_count = 0 then ' gives no valid email or phone, and the name matches no customer'
                        else
                            ' gives no valid email or phone, and the name matches '
                            || name_match_count || ' customers'
                    end
                    || ', so the order is linked to no one'
        end as unlinked_reason
    from linked

)

select * from final
