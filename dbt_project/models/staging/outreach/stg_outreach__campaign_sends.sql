-- The latest version of each send decision in the landed ledger batches.
with

source as (

    select * from {{ source('outreach', 'campaign_sends') }}

),

final as (

    select
        send_id,
        campaign,
        purpose,
        step,
        step_index,
        customer_id,
        cycle,
        email,
        status,
        reason,
        decided_at,
        sent_at,
        sg_message_id,
        subject,
        batch_id,
        mode,
        attempts,
        retryable as is_retryable,
        seq,
        _loaded_at as loaded_at
    from source
    qualify row_number() over (partition by send_id order by seq desc) = 1

)

select * from final
