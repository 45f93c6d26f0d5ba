-- One row per distinct mail received at our reply-to address (Inbound Parse). A mail posted twice (SendGrid
-- retries an unanswered post) is its Message-ID, kept as first received. reply_token is the +tag of the
-- address it was sent to, our send_id; auto_reply_reason says why a mail is automatic (an out-of-office,
-- Auto-Submitted, a vacation responder): kept, but not a response.
with

source as (

    select * from {{ source('sendgrid', 'replies') }}

),

keyed as (

    select
        *,
        coalesce(nullif(message_id, ''), _request) as reply_key
    from source

),

final as (

    select
        reply_key,
        message_id,
        received_at,
        from_address,
        subject,
        nullif(reply_token, '') as reply_token,
        auto_reply_reason,
        auto_reply_reason is not null as is_auto_reply,
        in_reply_to,
        attachment_count,
        _request as request_file
    from keyed
    qualify row_number() over (partition by reply_key order by received_at, _request) = 1

)

select * from final
