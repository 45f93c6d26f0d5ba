with

source as (

    select * from {{ source('identity', 'customer_ids') }}

),

final as (

    select
        record_key,
        customer_id,
        _load_id as load_id,
        _loaded_at as loaded_at,
        row_number() over (
            partition by record_key
            order by _loaded_at desc, _load_id desc
        ) = 1 as is_latest,
        row_number() over (
            partition by record_key
            order by _loaded_at, _load_id
        ) = 1 as is_first_entry
    from source

)

select * from final
