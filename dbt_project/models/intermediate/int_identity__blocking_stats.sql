-- What the fuzzy tier's blocking did, one row per kind of block: how many blocks paired something, the
-- largest, the pairs they offered to compare, and the blocks skipped for being over var
-- identity_max_block_size with the records in them. A slow or surprising run explains itself here (and in
-- the Dagster asset's metadata); no value of a block is kept, only counts.
with

{{ fuzzy_blocking_ctes() }},

-- The kinds of block (macro fuzzy_blocking_ctes), every one listed even when no block of it paired anything.
kinds as (

    select
        1 as kind,
        'company' as block_kind

    union all

    select
        2 as kind,
        'work_domain' as block_kind

    union all

    select
        3 as kind,
        'landline' as block_kind

    union all

    select
        4 as kind,
        'mobile_head' as block_kind

    union all

    select
        5 as kind,
        'mobile_tail' as block_kind

    union all

    select
        9 as kind,
        'mobile_swap' as block_kind

    union all

    select
        6 as kind,
        'mailbox_head' as block_kind

    union all

    select
        7 as kind,
        'mailbox_tail' as block_kind

    union all

    select
        8 as kind,
        'mailbox_domain' as block_kind

),

per_kind as (

    select
        kind,
        count(*) filter (where block_size <= {{ var('identity_max_block_size') }}) as block_count,
        coalesce(sum(block_size) filter (where block_size <= {{ var('identity_max_block_size') }}), 0)
            as record_count,
        coalesce(max(block_size) filter (where block_size <= {{ var('identity_max_block_size') }}), 0)
            as largest_block_size,
        coalesce(
            sum(block_size * (block_size - 1) // 2) filter (where block_size <= {{ var('identity_max_block_size') }}),
            0
        ) as pair_count,
        count(*) filter (where block_size > {{ var('identity_max_block_size') }}) as skipped_block_count,
        coalesce(sum(block_size) filter (where block_size > {{ var('identity_max_block_size') }}), 0)
            as skipped_record_count,
        coalesce(max(block_size) filter (where block_size > {{ var('identity_max_block_size') }}), 0)
            as largest_skipped_block_size
    from block_sizes
    group by kind

),

final as (

    select
        kinds.block_kind,
        coalesce(per_kind.block_count, 0)::bigint as block_count,
        coalesce(per_kind.record_count, 0)::bigint as record_count,
        coalesce(per_kind.largest_block_size, 0)::bigint as largest_block_size,
        coalesce(per_kind.pair_count, 0)::bigint as pair_count,
        coalesce(per_kind.skipped_block_count, 0)::bigint as skipped_block_count,
        coalesce(per_kind.skipped_record_count, 0)::bigint as skipped_record_count,
        coalesce(per_kind.largest_skipped_block_size, 0)::bigint as largest_skipped_block_size
    from kinds
    left join per_kind
        on kinds.kind = per_kind.kind

)

select * from final
