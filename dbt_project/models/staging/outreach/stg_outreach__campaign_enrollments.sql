-- The latest version of each enrolment in the landed ledger batches.
with

source as (

    select * from {{ source('outreach', 'campaign_enrollments') }}

),

final as (

    select
        campaign,
        customer_id,
        cycle,
        enrolled_at,
        entered_at,
        treatment_group,
        exited_at,
        exit_reason,
        seq,
        _loaded_at as loaded_at
    from source
    qualify row_number() over (partition by campaign, customer_id, cycle order by seq desc) = 1

)

select * from final
