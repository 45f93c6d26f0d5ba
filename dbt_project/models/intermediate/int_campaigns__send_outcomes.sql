-- One row per send that left (or, in a dry run, would have left): what became of it, from its events.
--
-- Definitions (docs/campaigns.md, "Campaign metrics"):
-- - sent: SendGrid accepted it (status sent), a dry run recorded it (dry_run, rehearsal), or a send left
--   `unknown` by a run that died mid-request that SendGrid's events show did go out.
-- - bounced: a bounce event (type bounce, a hard bounce, or blocked); dropped: SendGrid refused to send it.
-- - delivered: a delivered event, or proof of delivery (a human open, a click, a reply, an unsubscribe or a
--   spam report: an open whose delivered event was lost still was delivered), unless it bounced or dropped.
-- - opened: a human open or any click (a click proves the mail was opened with images off). Apple Mail
--   Privacy Protection opens (sg_machine_open) are machine opens and never opens.
-- - clicked: a click on a link that is not the unsubscribe or preferences link.
-- - replied: a reply that is not automatic (an out-of-office before or after it changes nothing).
-- - converted: a purchase or a form submission by the customer (followed through later merges) after the
--   send and within the campaign's attribution window (var campaign_attribution_days, else
--   campaign_default_attribution_days).
with

sends as (

    select * from {{ ref('campaign_sends') }}
    where status in ('sent', 'dry_run', 'unknown')

),

events as (

    select * from {{ ref('campaign_events') }}
    where send_id is not null

),

id_history as (

    select * from {{ ref('customer_id_history') }}

),

conversion_events as (

    select * from {{ ref('int_campaigns__conversion_events') }}

),

windows as (

    {{ attribution_windows() }}

),

per_send as (

    select
        send_id,
        count(*) as events,
        bool_or(event = 'delivered') as has_delivered,
        bool_or(event = 'bounce') as has_bounce,
        bool_or(event = 'bounce' and bounce_type <> 'blocked') as has_hard_bounce,
        bool_or(event = 'dropped') as has_dropped,
        bool_or(event = 'open' and not is_machine_open) as has_human_open,
        bool_or(event = 'open' and is_machine_open) as has_machine_open,
        bool_or(event = 'click') as has_any_click,
        bool_or(event = 'click' and not is_unsubscribe_link) as has_click,
        bool_or(event = 'reply') as has_reply,
        bool_or(event = 'auto_reply') as has_auto_reply,
        bool_or(event in ('unsubscribe', 'group_unsubscribe')) as has_unsubscribe,
        bool_or(event = 'spamreport') as has_spam_report,
        min(case when event = 'reply' then event_at end) as replied_at
    from events
    group by send_id

),

attributed as (

    select
        sends.send_id,
        min(conversion_events.converted_at) as converted_at,
        arg_min(conversion_events.conversion, conversion_events.converted_at) as conversion
    from sends
    left join windows
        on sends.campaign = windows.campaign
    left join id_history
        on sends.customer_id = id_history.retired_customer_id
    inner join conversion_events
        on
            coalesce(id_history.customer_id, sends.customer_id) = conversion_events.customer_id
            and conversion_events.converted_at > coalesce(sends.sent_at, sends.decided_at)
            and conversion_events.converted_at <= coalesce(sends.sent_at, sends.decided_at)
            + to_days(coalesce(windows.attribution_days, {{ var('campaign_default_attribution_days', 7) }}))
    group by sends.send_id

),

final as (

    select
        sends.send_id,
        sends.campaign,
        sends.step,
        sends.step_index,
        sends.customer_id,
        sends.status,
        sends.status = 'dry_run' as is_rehearsal,
        coalesce(sends.sent_at, sends.decided_at) as sent_at,
        sends.status in ('sent', 'dry_run') or coalesce(per_send.events, 0) > 0 as is_sent,
        coalesce(per_send.has_bounce, false) as is_bounced,
        coalesce(per_send.has_hard_bounce, false) as is_hard_bounce,
        coalesce(per_send.has_dropped, false) as is_dropped,
        coalesce(
            (
                per_send.has_delivered
                or per_send.has_human_open
                or per_send.has_any_click
                or per_send.has_reply
                or per_send.has_unsubscribe
                or per_send.has_spam_report
            )
            and not per_send.has_bounce
            and not per_send.has_dropped,
            false
        ) as is_delivered,
        coalesce(per_send.has_human_open or per_send.has_any_click, false) as is_opened,
        coalesce(per_send.has_machine_open, false) as has_machine_open,
        coalesce(per_send.has_click, false) as is_clicked,
        coalesce(per_send.has_reply, false) as is_replied,
        coalesce(per_send.has_auto_reply, false) as has_auto_reply,
        per_send.replied_at,
        coalesce(per_send.has_unsubscribe, false) as is_unsubscribed,
        coalesce(per_send.has_spam_report, false) as is_spam_reported,
        attributed.send_id is not null as is_converted,
        attributed.conversion,
        attributed.converted_at
    from sends
    left join per_send
        on sends.send_id = per_send.send_id
    left join attributed
        on sends.send_id = attributed.send_id

)

select * from final
