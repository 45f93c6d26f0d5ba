-- One row per customer: the attributes segment rules are written in (the column list is
-- orchestration/lib/segments.py ATTRIBUTE_COLUMNS; docs/segments.md explains each), as of segment_as_of().
--
-- RFM: among buyers, each score is the quintile of the customer's rank, 1 + floor(5 * percent_rank), capped
-- at 5, so equal values always share a score (the lowest of their band): recency on the last purchase
-- (latest = 5), frequency on the purchase count, monetary on total_value within its currency (KRW is
-- never ranked against EUR); a customer whose purchases mix currencies has no monetary score and no
-- rfm_score. VIP is the top var vip_top_share (0.1: the top decile) of buyers by total_value within the same
-- currency: percent_rank over total_value descending below the share, so ties at the edge all get in.
-- Lifecycle, first match wins: prospect (no purchase; prospects never churn, they go cold), churned (no
-- activity for more than var churn_after_days), at_risk (three or more purchases and more days since the last
-- than var at_risk_interval_factor times the usual interval), vip, regular (3+), repeat (2), new (1).
-- Activity is the later of the last purchase and the last record seen. Account tier is the larger of the
-- tier of company_size (its first number, var account_tier_employees) and the best deal tier; null when
-- neither is known. Channel is online when the earliest record comes from var online_sources.
with

profiles as (

    select * from {{ ref('int_customers__profile') }}

),

purchase_stats as (

    select * from {{ ref('int_customers__purchase_stats') }}

),

buyers as (

    select
        customer_id,
        purchase_count,
        total_value,
        currency,
        last_purchase_at,
        usual_interval_days,
        days_since_last_purchase,
        deal_tier_rank,
        cast(least(5, 1 + floor(5 * percent_rank() over (
            order by last_purchase_at asc nulls first
        ))) as integer) as recency_score,
        cast(least(5, 1 + floor(5 * percent_rank() over (
            order by purchase_count asc
        ))) as integer) as frequency_score,
        case
            when total_value is not null
                then cast(least(5, 1 + floor(5 * percent_rank() over (
                    partition by currency, total_value is null
                    order by total_value asc
                ))) as integer)
        end as monetary_score,
        coalesce(
            total_value > 0
            and percent_rank() over (
                partition by currency, total_value is null
                order by total_value desc
            ) < {{ var('vip_top_share') }},
            false
        ) as is_vip
    from purchase_stats

),

measured as (

    select
        profiles.customer_id,
        profiles.industry,
        profiles.acquisition_source,
        profiles.owner is not null as has_owner,
        {{ leading_integer('profiles.company_size') }} as company_size_employees,
        coalesce(buyers.purchase_count, 0) as purchase_count,
        case when buyers.customer_id is null then 0 else buyers.total_value end as total_value,
        buyers.currency,
        buyers.usual_interval_days,
        buyers.days_since_last_purchase,
        cast(greatest(0, {{ days_between(
            'greatest(profiles.last_seen_at, buyers.last_purchase_at)', segment_as_of()
        ) }}) as bigint) as days_since_last_activity,
        buyers.deal_tier_rank,
        buyers.recency_score,
        buyers.frequency_score,
        buyers.monetary_score,
        coalesce(buyers.is_vip, false) as is_vip,
        (
            {%- for source in var('online_sources') %}
                ',' || profiles.sources || ',' like '%,{{ source }},%'
                {%- if not loop.last %} or{% endif %}
            {%- endfor %}
        ) as has_form_submission,
        profiles.acquisition_source in (
            {%- for source in var('online_sources') %}'{{ source }}'{% if not loop.last %}, {% endif %}{% endfor -%}
        ) as is_online,
        coalesce(profiles.consent_email and profiles.primary_email is not null, false) as has_consented_email,
        profiles.primary_phone is not null as has_phone
    from profiles
    left join buyers
        on profiles.customer_id = buyers.customer_id

),

ranked as (

    select
        *,
        purchase_count > 0
        and days_since_last_activity > {{ var('churn_after_days') }} as is_churned,
        coalesce(
            purchase_count >= 3
            and days_since_last_purchase > usual_interval_days * {{ var('at_risk_interval_factor') }},
            false
        ) as is_at_risk,
        greatest(
            case
                when company_size_employees >= {{ var('account_tier_employees')['large'] }} then 3
                when company_size_employees >= {{ var('account_tier_employees')['mid'] }} then 2
                when company_size_employees is not null then 1
            end,
            deal_tier_rank
        ) as tier_rank
    from measured

),

final as (

    select
        customer_id,
        case
            when purchase_count = 0 then 'prospect'
            when is_churned then 'churned'
            when is_at_risk then 'at_risk'
            when is_vip then 'vip'
            when purchase_count >= 3 then 'regular'
            when purchase_count = 2 then 'repeat'
            else 'new'
        end as lifecycle_stage,
        is_vip,
        is_at_risk,
        case tier_rank when 3 then 'large' when 2 then 'mid' when 1 then 'small' end as account_tier,
        company_size_employees,
        industry,
        case when is_online then 'online' else 'offline' end as channel,
        acquisition_source,
        has_form_submission,
        purchase_count,
        total_value,
        currency,
        usual_interval_days,
        days_since_last_purchase,
        days_since_last_activity,
        recency_score,
        frequency_score,
        monetary_score,
        cast(recency_score as varchar)
        || cast(frequency_score as varchar)
        || cast(monetary_score as varchar) as rfm_score,
        has_consented_email,
        has_phone,
        has_consented_email or has_phone as is_contactable,
        has_owner
    from ranked

)

select * from final
