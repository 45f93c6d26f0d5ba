-- Segment entries and exits of the latest run: one row per customer and event at this run's segmentation
-- time (segment_as_of), read from the membership history (snapshot segment_memberships). A customer who
-- moved from A to B has an exited event for A and an entered event for B, both naming from_segment and
-- to_segment and the attribute changes that moved them (reason). A customer seen for the first time only
-- enters (from_segment null); on the very first run that is everyone, and is_baseline says so, so campaign
-- triggers can skip it. A customer that disappeared (merged into another) only exits (to_segment null),
-- naming the customer it was merged into (customer_id_history), so campaign history can follow the person.
-- Re-running with the same as_of gives the same events: the snapshot adds no version for an unchanged row.
with

memberships as (

    select * from {{ ref('segment_memberships') }}

),

id_history as (

    select * from {{ ref('customer_id_history') }}

),

-- The previous version of a customer ends exactly where the new one starts (dbt_valid_to = dbt_valid_from),
-- so this run's moves are a join of the versions starting and ending at as_of; no window over history. A
-- version never ends without a next one (a removed customer gets a version with a null segment).
starting as (

    select * from memberships
    where dbt_valid_from = {{ segment_as_of() }}

),

ending as (

    select * from memberships
    where dbt_valid_to = {{ segment_as_of() }}

),

versions as (

    select
        starting.customer_id,
        {{ segment_as_of() }} as as_of,
        ending.dbt_valid_from as previous_as_of,
        ending.segment as from_segment,
        starting.segment as to_segment,
        ending.lifecycle_stage as from_lifecycle_stage,
        starting.lifecycle_stage as to_lifecycle_stage,
        ending.account_tier as from_account_tier,
        starting.account_tier as to_account_tier,
        ending.channel as from_channel,
        starting.channel as to_channel,
        ending.rfm_score as from_rfm_score,
        starting.rfm_score as to_rfm_score,
        ending.is_vip as from_is_vip,
        starting.is_vip as to_is_vip,
        ending.is_contactable as from_is_contactable,
        starting.is_contactable as to_is_contactable
    from starting
    left join ending
        on starting.customer_id = ending.customer_id

),

moves as (

    select
        *,
        concat_ws(
            '; ',
            case
                when from_lifecycle_stage is distinct from to_lifecycle_stage
                    then
                        'lifecycle_stage ' || coalesce(from_lifecycle_stage, '∅') || ' → '
                        || coalesce(to_lifecycle_stage, '∅')
            end,
            case
                when from_account_tier is distinct from to_account_tier
                    then
                        'account_tier ' || coalesce(from_account_tier, '∅') || ' → '
                        || coalesce(to_account_tier, '∅')
            end,
            case
                when from_channel is distinct from to_channel
                    then 'channel ' || coalesce(from_channel, '∅') || ' → ' || coalesce(to_channel, '∅')
            end,
            case
                when from_is_vip is distinct from to_is_vip
                    then
                        'is_vip ' || coalesce(cast(from_is_vip as varchar), '∅') || ' → '
                        || coalesce(cast(to_is_vip as varchar), '∅')
            end,
            case
                when from_is_contactable is distinct from to_is_contactable
                    then
                        'is_contactable ' || coalesce(cast(from_is_contactable as varchar), '∅') || ' → '
                        || coalesce(cast(to_is_contactable as varchar), '∅')
            end,
            case
                when from_rfm_score is distinct from to_rfm_score
                    then 'rfm_score ' || coalesce(from_rfm_score, '∅') || ' → ' || coalesce(to_rfm_score, '∅')
            end
        ) as attribute_changes
    from versions
    where from_segment is distinct from to_segment

),

explained as (

    select
        moves.*,
        id_history.customer_id as merged_into_customer_id,
        case
            when moves.previous_as_of is null then 'first seen'
            when moves.to_segment is null and id_history.customer_id is not null
                then 'merged into customer ' || id_history.customer_id
            when moves.to_segment is null then 'customer removed (no merge recorded for it)'
            when moves.attribute_changes <> '' then moves.attribute_changes
            else 'time passed: a rule on days since the last activity or purchase'
        end as reason,
        (select min(memberships.dbt_valid_from) from memberships) = {{ segment_as_of() }} as is_baseline
    from moves
    -- a removed customer whose records are still here was merged: customer_id_history names the survivor
    left join id_history
        on
            moves.customer_id = id_history.retired_customer_id
            and moves.to_segment is null

),

final as (

    select
        customer_id,
        'exited' as event_type,
        from_segment as segment,
        as_of,
        previous_as_of,
        from_segment,
        to_segment,
        reason,
        merged_into_customer_id,
        from_lifecycle_stage,
        to_lifecycle_stage,
        from_account_tier,
        to_account_tier,
        from_rfm_score,
        to_rfm_score,
        is_baseline
    from explained
    where from_segment is not null

    union all

    select
        customer_id,
        'entered' as event_type,
        to_segment as segment,
        as_of,
        previous_as_of,
        from_segment,
        to_segment,
        reason,
        merged_into_customer_id,
        from_lifecycle_stage,
        to_lifecycle_stage,
        from_account_tier,
        to_account_tier,
        from_rfm_score,
        to_rfm_score,
        is_baseline
    from explained
    where to_segment is not null

)

select * from final
