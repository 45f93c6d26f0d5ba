-- One row per enrolment of a customer in a drip campaign (cycle: the occurrence of a date trigger or the form
-- submission that enrolled them; empty for an audience entry), with the steps it has had so far.
with

enrollments as (

    select * from {{ ref('stg_outreach__campaign_enrollments') }}

),

sends as (

    select * from {{ ref('stg_outreach__campaign_sends') }}

),

-- A step is done once it was sent, held out, failed for good or left unknown (dry runs count in a dry-run home).
progress as (

    select
        campaign,
        customer_id,
        cycle,
        count(*) as steps_done,
        max_by(step, step_index) as current_step,
        max(coalesce(sent_at, decided_at)) as last_step_at
    from sends
    where status in ('sent', 'holdout', 'unknown', 'dry_run') or (status = 'failed' and not is_retryable)
    group by campaign, customer_id, cycle

),

final as (

    select
        enrollments.campaign,
        enrollments.customer_id,
        enrollments.cycle,
        enrollments.enrolled_at,
        enrollments.entered_at,
        enrollments.treatment_group as "group",
        progress.current_step,
        coalesce(progress.steps_done, 0) as steps_done,
        progress.last_step_at,
        enrollments.exited_at,
        enrollments.exit_reason,
        enrollments.exited_at is null as is_active
    from enrollments
    left join progress
        on
            enrollments.campaign = progress.campaign
            and enrollments.customer_id = progress.customer_id
            and enrollments.cycle = progress.cycle

)

select * from final
