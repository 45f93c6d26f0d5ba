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

-- One send per X-Message-Id and address (the first by send_id, should a request have mailed one address
-- twice), so that matching ten million events is a plain lookup; each event takes its send's columns from
-- the lookup that found it.
sends_by_message as (

    select *
    from sends
    where sg_message_id is not null
    qualify row_number() over (partition by sg_message_id, email order by send_id) = 1

),

events_by_id as (

    select
        events.*,
        by_id.send_id as id_send_id,
        by_id.campaign as id_campaign,
        by_id.step as id_step,
        by_id.step_index as id_step_index,
        by_id.customer_id as id_customer_id,
        by_id.sent_at as id_sent_at,
        case when by_id.send_id is null then split_part(events.sg_message_id, '.', 1) end as x_message_id,
        case when by_id.send_id is null then lower(events.email) end as x_message_email
    from events
    left join sends as by_id
        on events.send_id = by_id.send_id

),

events_matched as (

    select
        events_by_id.*,
        coalesce(events_by_id.id_send_id, by_message.send_id) as matched_send_id,
        case
            when events_by_id.id_send_id is not null then 'send_id'
            when by_message.send_id is not null then 'sg_message_id'
        end as matched_by,
        case when events_by_id.id_send_id is not null then events_by_id.id_campaign else by_message.campaign end
            as send_campaign,
        case when events_by_id.id_send_id is not null then events_by_id.id_step else by_message.step end
            as send_step,
        case
            when events_by_id.id_send_id is not null then events_by_id.id_step_index else by_message.step_index
        end as send_step_index,
        case
            when events_by_id.id_send_id is not null then events_by_id.id_customer_id else by_message.customer_id
        end as send_customer_id,
        case when events_by_id.id_send_id is not null then events_by_id.id_sent_at else by_message.sent_at end
            as send_sent_at
    from events_by_id
    left join sends_by_message as by_message
        on
            events_by_id.x_message_id = by_message.sg_message_id
            and events_by_id.x_message_email = by_message.email

),

replies_by_token as (

    select
        replies.*,
        sends.send_id as token_send_id
    from replies
    left join sends
        on replies.reply_token = sends.send_id

),

-- Only a reply without a known token looks for the latest send to its sender, among the sends to them.
replies_without_token as (

    select
        reply_key,
        from_address,
        received_at
    from replies_by_token
    where token_send_id is null

),

sends_to_senders as (

    select
        email,
        sent_at,
        send_id
    from sends
    where email in (select replies_without_token.from_address from replies_without_token)

),

replies_by_sender as (

    select
        replies_without_token.reply_key,
        sends_to_senders.send_id
    from replies_without_token
    asof inner join sends_to_senders
        on
            replies_without_token.from_address = sends_to_senders.email
            and replies_without_token.received_at >= sends_to_senders.sent_at

),

replies_matched as (

    select
        replies_by_token.*,
        coalesce(replies_by_token.token_send_id, by_sender.send_id) as matched_send_id,
        case
            when replies_by_token.token_send_id is not null then 'reply_token'
            when by_sender.send_id is not null then 'sender_address'
        end as matched_by,
        sends.campaign as send_campaign,
        sends.step as send_step,
        sends.step_index as send_step_index,
        sends.customer_id as send_customer_id,
        sends.sent_at as send_sent_at
    from replies_by_token
    left join replies_by_sender as by_sender
        on replies_by_token.reply_key = by_sender.reply_key
    left join sends
        on coalesce(replies_by_token.token_send_id, by_sender.send_id) = sends.send_id

),

unioned as (

    select
        event_key,
        event,
        event_at,
        received_at,
        matched_send_id as send_id,
        matched_by,
        send_campaign,
        send_step,
        send_step_index,
        send_customer_id,
        send_sent_at,
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
        send_campaign,
        send_step,
        send_step_index,
        send_customer_id,
        send_sent_at,
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
        event_key,
        event,
        event_at,
        received_at,
        send_id,
        matched_by,
        coalesce(send_campaign, event_campaign) as campaign,
        coalesce(send_step, event_step) as step,
        send_step_index as step_index,
        coalesce(send_customer_id, event_customer_id) as customer_id,
        send_sent_at as sent_at,
        is_machine_open,
        is_unsubscribe_link,
        bounce_type,
        url,
        reason,
        sg_event_id,
        sg_message_id,
        times_received
    from unioned

)

select * from final
