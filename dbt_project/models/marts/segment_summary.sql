-- One row per defined segment, empty ones included: size, share, value, purchase frequency and how many of
-- its customers can be reached, as of the run's segmentation time. Values are only added up in one currency:
-- var reporting_currency, else the currency most buyers use; customers whose purchases are in another
-- currency, or several, count in customer_count but not in total_value or average_value.
with

segments as (

    {{ segment_list() }}

),

customers as (

    select * from {{ ref('int_customers__segments') }}

),

currency_counts as (

    select
        currency,
        count(*) as buyer_count
    from customers
    where total_value is not null and currency is not null and currency not like '%,%'
    group by currency

),

reporting_currency as (

    select
        coalesce(
            {% if var('reporting_currency', none) %}'{{ var("reporting_currency") }}'{% else %}null{% endif %},
            (
                select currency_counts.currency from currency_counts
                order by currency_counts.buyer_count desc, currency_counts.currency asc limit 1
            )
        ) as currency

),

valued as (

    select
        customers.*,
        coalesce(customers.purchase_count = 0 or customers.currency = reporting_currency.currency, false)
            as is_valued
    from customers
    left join reporting_currency
        on true

),

by_segment as (

    select
        segment,
        count(*) as customer_count,
        count(*) filter (where is_valued) as valued_customer_count,
        sum(total_value) filter (where is_valued) as total_value,
        avg(purchase_count) as average_purchase_count,
        avg(case when has_consented_email then 1.0 else 0.0 end) as consented_email_share,
        avg(case when has_phone then 1.0 else 0.0 end) as phone_share,
        avg(case when is_contactable then 0.0 else 1.0 end) as unreachable_share,
        avg(case when is_contactable then 1.0 else 0.0 end) as contactable_share
    from valued
    group by segment

),

totals as (

    select count(*) as all_customers from customers

),

final as (

    select
        segments.segment,
        segments.segment_priority,
        coalesce(by_segment.customer_count, 0) as customer_count,
        coalesce(by_segment.customer_count / nullif(totals.all_customers, 0), 0.0) as customer_share,
        (select reporting_currency.currency from reporting_currency) as currency,
        coalesce(by_segment.total_value, 0.0) as total_value,
        by_segment.total_value / nullif(by_segment.valued_customer_count, 0) as average_value,
        by_segment.average_purchase_count,
        by_segment.consented_email_share,
        by_segment.phone_share,
        by_segment.unreachable_share,
        by_segment.contactable_share,
        {{ segment_as_of() }} as as_of
    from segments
    cross join totals
    left join by_segment
        on segments.segment = by_segment.segment

)

select * from final
