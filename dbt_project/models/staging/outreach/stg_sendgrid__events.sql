-- One row per distinct SendGrid event. SendGrid delivers at least once (one event has been seen 46 times), so
-- an event is its sg_event_id, kept as first received; an event without one (not seen from SendGrid, but kept)
-- is its exact text. The event's time is SendGrid's (event_at), not when it reached us (received_at).
with

source as (

    select * from {{ source('sendgrid', 'events') }}

),

keyed as (

    select
        *,
        coalesce(nullif(sg_event_id, ''), 'md5:' || md5(record)) as event_key
    from source

),

final as (

    select
        event_key,
        nullif(sg_event_id, '') as sg_event_id,
        lower(event) as event,
        email,
        event_at,
        received_at,
        nullif(sg_message_id, '') as sg_message_id,
        nullif(send_id, '') as send_id,
        nullif(campaign, '') as campaign,
        nullif(step, '') as step,
        nullif(customer_id, '') as customer_id,
        lower(type) as bounce_type,
        reason,
        status,
        url,
        coalesce(sg_machine_open, false) as is_machine_open,
        asm_group_id,
        _request as request_file,
        count(*) over (partition by event_key) as times_received
    from keyed
    qualify row_number() over (partition by event_key order by received_at, _request, _position) = 1

)

select * from final
