-- The fuzzy tier's blocks of two rows or more (macro fuzzy_blocking_ctes): one row per block, with its kind
-- and how many rows it holds. int_identity__fuzzy_pairs pairs only the blocks within var
-- identity_max_block_size; int_identity__blocking_stats reports them all. A block is known by its hash
-- only (its name key and value hashed together): nothing personal is kept.
with

{{ fuzzy_blocking_ctes() }},

final as (

    select
        block_hash,
        any_value(kind) as kind,
        count(*) as block_size
    from block_keys
    group by block_hash
    having count(*) > 1

)

select * from final
