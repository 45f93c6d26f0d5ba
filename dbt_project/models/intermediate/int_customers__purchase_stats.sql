-- Purchase behaviour of each buying customer as of the segmentation time (macro segment_as_of): purchases
-- made after it are left out, so a run with an earlier DRIPLINE_AS_OF sees the past, not the future; a
-- purchase without a date counts (we cannot tell it is later). The usual purchase interval is the median gap,
-- in days, between the customer's distinct purchase days (UTC days), so two orders on one day are one visit;
-- it needs two purchase days. total_value and currency follow customers (one currency, or null and a list).
-- deal_tier_rank is the best account tier any single deal reaches (var account_tier_deal_value, per
-- currency): 3 large, 2 mid, 1 small, null when no deal is in a currency with thresholds.
with

purchases as (

    select * from {{ ref('int_customers__purchases') }}

),

as_of_purchases as (

    select
        customer_id,
        purchase_value,
        coalesce(currency, '?') as currency,
        purchased_at,
        {{ days_between("timestamptz '1970-01-01 00:00:00+00'", 'purchased_at') }} as purchase_day
    from purchases
    where purchased_at is null or purchased_at <= {{ segment_as_of() }}

),

-- One row per (customer, purchase_key) by contract, so count(*) counts purchases; min and max of the
-- currency tell one currency from several without a count(distinct).
totals as (

    select
        customer_id,
        count(*) as purchase_count,
        min(currency) = max(currency) as is_one_currency,
        min(currency) as only_currency,
        sum(purchase_value) as summed_value,
        max(purchased_at) as last_purchase_at,
        max({{ deal_value_tier('purchase_value', 'currency') }}) as deal_tier_rank
    from as_of_purchases
    group by customer_id

),

mixed_currencies as (

    select
        customer_id,
        string_agg(distinct currency, ',' order by currency) as currencies
    from as_of_purchases
    where
        customer_id in (
            select totals.customer_id from totals
            where not totals.is_one_currency
        )
    group by customer_id

),

-- Purchases on one day are one visit: a gap of 0 days between consecutive purchases is no interval.
purchase_gaps as (

    select
        customer_id,
        purchase_day - lag(purchase_day) over (partition by customer_id order by purchase_day) as gap_days
    from as_of_purchases
    where purchase_day is not null

),

intervals as (

    select
        customer_id,
        percentile_cont(0.5) within group (order by gap_days) as usual_interval_days
    from purchase_gaps
    where gap_days > 0
    group by customer_id

),

final as (

    select
        totals.customer_id,
        totals.purchase_count,
        case when totals.is_one_currency then totals.summed_value end as total_value,
        coalesce(mixed_currencies.currencies, totals.only_currency) as currency,
        totals.last_purchase_at,
        cast(intervals.usual_interval_days as double) as usual_interval_days,
        cast(
            {{ days_between('totals.last_purchase_at', segment_as_of()) }} as bigint
        ) as days_since_last_purchase,
        totals.deal_tier_rank
    from totals
    left join mixed_currencies
        on totals.customer_id = mixed_currencies.customer_id
    left join intervals
        on totals.customer_id = intervals.customer_id

)

select * from final
