-- One row per distinct thing that happened to a mail we sent: SendGrid's events (processed, delivered,
-- deferred, bounce, dropped, open, click, spamreport, unsubscribe, group_unsubscribe, group_resubscribe) and
-- the mails sent back to us (reply, auto_reply), each credited to the send it belongs to.
--
-- Finding the send. An event names our send_id in its custom args; failing that (a send recorded `unknown`
-- by a run that died before SendGrid's answer still carries it, but an event of a mail sent by another
-- tool does not), SendGrid's message id: the X-Message-Id of the request that sent it (the part of
-- sg_message_id before the first dot) together with the recipient's address. A reply names the send in the
-- +tag of the reply-to address it was written to; failing that (a client that replied to the sender, a
-- forward), the latest send to the address it came from before it arrived. An event or reply that finds no
-- send is kept with a null send_id: its send may simply not have landed yet, and the next build credits it.
with

events as (

    select * from {{ ref('stg_sendgrid__events') }}
    where event is not null

),

replies as (

    select * from {{ ref('stg_sendgrid__replies') }}

),

sends as (

    select
        send_id,
        campaign,
        step,
        step_index,
        customer_id,
        lower(email) as email,
        sg_message_id,
        coalesce(sent_at, decided_at) as sent_at
    from {{ ref('campaign_sends') }}
    where status in ('sent', 'dry_run', 'unknown')

),

events_matched as (

    select
        events.*,
        coalesce(by_id.send_id, by_message.send_id) as matched_send_id,
        case
            when by_id.send_id is not null then 'send_id'
            when by_message.send_id is not null then 'sg_message_id'
        end as matched_by
    from events
    left join sends as by_id
        on events.send_id = by_id.send_id
    left join sends as by_message
        on
            by_id.send_id is null
            and split_part(events.sg_message_id, '.', 1) = by_message.sg_message_id
            and lower(events.email) = by_message.email
    qualify row_number() over (partition by events.event_key order by by_message.send_id) = 1

),

replies_by_token as (

    select
        replies.*,
        sends.send_id as token_send_id
    from replies
    left join sends
        on replies.reply_token = sends.send_id

),

replies_matched as (

    select
        replies_by_token.*,
        coalesce(replies_by_token.token_send_id, by_sender.send_id) as matched_send_id,
        case
            when replies_by_token.token_send_id is not null then 'reply_token'
            when by_sender.send_id is not null then 'sender_address'
        end as matched_by
    from replies_by_token
    asof left join sends as by_sender
        on
            replies_by_token.from_address = by_sender.email
            and replies_by_token.received_at >= by_sender.sent_at

),

unioned as (

    select
        event_key,
        event,
        event_at,
        received_at,
        matched_send_id as send_id,
        matched_by,
        campaign as event_campaign,
        step as event_step,
        customer_id as event_customer_id,
        is_machine_open,
        event = 'click'
        and regexp_matches(coalesce(url, ''), '(?i)unsubscribe|/asm/|preferences|opt-?out|수신\s*거부')
            as is_unsubscribe_link,
        case when event = 'bounce' then coalesce(bounce_type, 'bounce') end as bounce_type,
        url,
        reason,
        sg_event_id,
        sg_message_id,
        times_received
    from events_matched

    union all

    select
        'reply:' || reply_key as event_key,
        case when is_auto_reply then 'auto_reply' else 'reply' end as event,
        received_at as event_at,
        received_at,
        matched_send_id as send_id,
        matched_by,
        null as event_campaign,
        null as event_step,
        null as event_customer_id,
        false as is_machine_open,
        false as is_unsubscribe_link,
        null as bounce_type,
        null as url,
        auto_reply_reason as reason,
        null as sg_event_id,
        null as sg_message_id,
        1 as times_received
    from replies_matched

),

final as (

    select
        unioned.event_key,
        unioned.event,
        unioned.event_at,
        unioned.received_at,
        unioned.send_id,
        unioned.matched_by,
        coalesce(sends.campaign, unioned.event_campaign) as campaign,
        coalesce(sends.step, unioned.event_step) as step,
        sends.step_index,
        coalesce(sends.customer_id, unioned.event_customer_id) as customer_id,
        sends.sent_at,
        unioned.is_machine_open,
        unioned.is_unsubscribe_link,
        unioned.bounce_type,
        unioned.url,
        unioned.reason,
        unioned.sg_event_id,
        unioned.sg_message_id,
        unioned.times_received
    from unioned
    left join sends
        on unioned.send_id = sends.send_id

)

select * from final
