-- One row per send decision of a drip campaign: who was (or would have been) mailed which step, or why not.
-- The send ledger is the source of truth (orchestration/lib/send_ledger.py); this is its latest state, landed.
with

sends as (

    select * from {{ ref('stg_outreach__campaign_sends') }}

),

final as (

    select
        send_id,
        campaign,
        step,
        customer_id,
        email,
        status,
        reason,
        decided_at,
        sent_at,
        sg_message_id,
        purpose,
        step_index,
        cycle,
        mode,
        attempts,
        is_retryable,
        batch_id
    from sends

)

select * from final
