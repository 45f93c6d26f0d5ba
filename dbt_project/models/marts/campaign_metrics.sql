-- One row per campaign, step and send date: what the mail of that day did. Everything is credited to the
-- send (its date, in DRIPLINE_LOCAL_TIMEZONE), not to the day an open or a reply arrived, so a day's row
-- goes on growing as late events come in. The definitions of each count are in int_campaigns__send_outcomes;
-- the denominators are written here once:
-- delivered for opens, clicks, replies, conversions, unsubscribes and spam reports; sent for bounces; unique
-- opens for click-to-open. A rate whose denominator is zero is null, not zero.
with

outcomes as (

    select * from {{ ref('int_campaigns__send_outcomes') }}
    where is_sent

),

counts as (

    select
        campaign,
        step,
        step_index,
        timezone('{{ var("local_timezone", "UTC") }}', sent_at)::date as send_date,
        bool_and(is_rehearsal) as rehearsal,
        count(*) as sent,
        count(*) filter (where is_delivered) as delivered,
        count(*) filter (where is_bounced) as bounced,
        count(*) filter (where is_dropped) as dropped,
        count(*) filter (where is_opened) as unique_opens,
        count(*) filter (where has_machine_open) as machine_opens,
        count(*) filter (where is_clicked) as unique_clicks,
        count(*) filter (where is_opened and is_clicked) as opened_and_clicked,
        count(*) filter (where is_replied) as replies,
        count(*) filter (where has_auto_reply) as auto_replies,
        count(*) filter (where is_converted) as conversions,
        count(*) filter (where is_unsubscribed) as unsubscribes,
        count(*) filter (where is_spam_reported) as spam_reports
    from outcomes
    group by campaign, step, step_index, send_date

),

final as (

    select
        campaign,
        step,
        step_index,
        send_date,
        rehearsal,
        sent,
        delivered,
        bounced,
        dropped,
        unique_opens,
        machine_opens,
        unique_clicks,
        replies,
        auto_replies,
        conversions,
        unsubscribes,
        spam_reports,
        unique_opens / nullif(delivered, 0) as open_rate,
        unique_clicks / nullif(delivered, 0) as click_rate,
        opened_and_clicked / nullif(unique_opens, 0) as click_to_open_rate,
        replies / nullif(delivered, 0) as reply_rate,
        conversions / nullif(delivered, 0) as conversion_rate,
        unsubscribes / nullif(delivered, 0) as unsubscribe_rate,
        bounced / nullif(sent, 0) as bounce_rate,
        spam_reports / nullif(delivered, 0) as spam_report_rate
    from counts

)

select * from final
