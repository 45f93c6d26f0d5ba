-- The customer profile (int_customers__profile: survivorship, sales data, purchases) with the segment
-- attributes and the one primary segment of each customer (int_customers__segments).
with

profiles as (

    select * from {{ ref('int_customers__profile') }}

),

segments as (

    select * from {{ ref('int_customers__segments') }}

),

final as (

    select
        profiles.customer_id,
        profiles.full_name,
        profiles.primary_email,
        profiles.email_address,
        profiles.primary_phone,
        profiles.company,
        profiles.industry,
        profiles.company_size,
        profiles.birthday,
        profiles.consent_email,
        profiles.consent_email_at,
        profiles.source_count,
        profiles.record_count,
        profiles.first_seen_at,
        profiles.last_seen_at,
        profiles.sources,
        profiles.purchase_count,
        profiles.total_value,
        profiles.currency,
        profiles.first_purchase_at,
        profiles.last_purchase_at,
        profiles.owner,
        segments.lifecycle_stage,
        segments.account_tier,
        segments.channel,
        segments.rfm_score,
        segments.segment
    from profiles
    inner join segments
        on profiles.customer_id = segments.customer_id

)

select * from final
