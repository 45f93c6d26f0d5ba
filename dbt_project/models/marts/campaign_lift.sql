-- One row per campaign that has mailed or held out someone: did the campaign change what customers did? The conversion rate of the
-- treated group (enrolments that were mailed, or in a dry run would have been) against the holdout's
-- (enrolments drawn into the control group and never mailed, after the same eligibility checks), each
-- measured from the group's first send decision over the campaign's attribution window, with the difference
-- and its 95 % confidence interval (normal approximation of the difference of two proportions; null when a
-- group is empty).
with

sends as (

    select * from {{ ref('campaign_sends') }}

),

outcomes as (

    select * from {{ ref('int_campaigns__send_outcomes') }}

),

id_history as (

    select * from {{ ref('customer_id_history') }}

),

windows as (

    {{ attribution_windows() }}

),

conversion_events as (

    select * from {{ ref('int_campaigns__conversion_events') }}

),

-- Each enrolment (campaign, customer, cycle) once, in its group, from its first decision.
members as (

    select
        sends.campaign,
        sends.customer_id,
        sends.cycle,
        'treated' as arm,
        min(outcomes.sent_at) as starts_at
    from outcomes
    inner join sends
        on outcomes.send_id = sends.send_id
    where outcomes.is_sent
    group by sends.campaign, sends.customer_id, sends.cycle

    union all

    select
        campaign,
        customer_id,
        cycle,
        'holdout' as arm,
        min(decided_at) as starts_at
    from sends
    where status = 'holdout'
    group by campaign, customer_id, cycle

),

converted as (

    select
        members.campaign,
        members.arm,
        members.customer_id,
        members.cycle,
        coalesce(windows.attribution_days, {{ var('campaign_default_attribution_days', 7) }}) as attribution_days,
        exists(
            select 1
            from conversion_events
            where
                conversion_events.customer_id = coalesce(id_history.customer_id, members.customer_id)
                and conversion_events.converted_at > members.starts_at
                and conversion_events.converted_at
                <= members.starts_at
                + to_days(coalesce(windows.attribution_days, {{ var('campaign_default_attribution_days', 7) }}))
        ) as is_converted
    from members
    left join windows
        on members.campaign = windows.campaign
    left join id_history
        on members.customer_id = id_history.retired_customer_id

),

groups as (

    select
        campaign,
        max(attribution_days) as attribution_days,
        count(*) filter (where arm = 'treated') as treated,
        count(*) filter (where arm = 'treated' and is_converted) as treated_conversions,
        count(*) filter (where arm = 'holdout') as holdout,
        count(*) filter (where arm = 'holdout' and is_converted) as holdout_conversions
    from converted
    group by campaign

),

rates as (

    select
        *,
        treated_conversions / nullif(treated, 0) as treated_conversion_rate,
        holdout_conversions / nullif(holdout, 0) as holdout_conversion_rate,
        sqrt(
            treated_conversions / nullif(treated, 0) * (1 - treated_conversions / nullif(treated, 0)) / treated
            + holdout_conversions / nullif(holdout, 0) * (1 - holdout_conversions / nullif(holdout, 0)) / holdout
        ) as standard_error
    from groups

),

final as (

    select
        campaign,
        attribution_days,
        treated,
        treated_conversions,
        treated_conversion_rate,
        holdout,
        holdout_conversions,
        holdout_conversion_rate,
        treated_conversion_rate - holdout_conversion_rate as lift,
        round(treated_conversion_rate - holdout_conversion_rate - 1.959964 * standard_error, 6) as lift_ci_low,
        round(treated_conversion_rate - holdout_conversion_rate + 1.959964 * standard_error, 6) as lift_ci_high
    from rates

)

select * from final
