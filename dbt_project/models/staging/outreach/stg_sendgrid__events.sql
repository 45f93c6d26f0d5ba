-- One row per distinct SendGrid event. SendGrid delivers at least once (one event has been seen 46 times), so
-- an event is its sg_event_id, kept as first received; an event without one (not seen from SendGrid, but kept)
-- is its exact text. The event's time is SendGrid's (event_at), not when it reached us (received_at).
--
-- Built for ten million events (bench/bench_tracking.py): most events arrive once, so only the events whose
-- id comes more than once (found by a hash of the id: a collision only sends an event the slow way) and the
-- rare ones without an id go through the window that picks the first received; the rest pass straight
-- through, and the raw text (record) is read only for the events without an id. It stays a table: as a view
-- (saving the write of ten million rows) it made campaign_events run out of DuckDB's 1 GB.
with

source as not materialized (

    select * from {{ source('sendgrid', 'events') }}

),

-- An sg_event_id that starts like a text key goes the slow way too, so the two kinds of key never meet.
with_id as not materialized (

    select
        *,
        sg_event_id as event_key,
        hash(sg_event_id) as key_hash
    from source
    where sg_event_id <> '' and not starts_with(sg_event_id, 'md5:')

),

repeated as (

    select key_hash
    from with_id
    group by key_hash
    having count(*) > 1

),

received_once as (

    select
        * exclude (key_hash),
        cast(1 as bigint) as times_received
    from with_id
    where key_hash not in (select repeated.key_hash from repeated)

),

to_deduplicate as (

    select * exclude (key_hash)
    from with_id
    where key_hash in (select repeated.key_hash from repeated)

    union all

    select
        *,
        coalesce(nullif(sg_event_id, ''), 'md5:' || md5(record)) as event_key
    from source
    where sg_event_id is null or sg_event_id = '' or starts_with(sg_event_id, 'md5:')

),

deduplicated as (

    select
        *,
        count(*) over (partition by event_key) as times_received
    from to_deduplicate
    qualify row_number() over (partition by event_key order by received_at, _request, _position) = 1

),

unioned as (

    select * from received_once
    union all
    select * from deduplicated

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
        times_received
    from unioned

)

select * from final
