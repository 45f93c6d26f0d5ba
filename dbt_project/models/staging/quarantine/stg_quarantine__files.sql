with

source as (

    select * from {{ source('quarantine', 'files') }}

),

renamed as (

    select
        inbox,
        entity,
        file as source_file,
        size_bytes,
        sha256,
        status,
        reason,
        _load_id as load_id,
        _loaded_at as quarantined_at
    from source

),

final as (

    select * from renamed

)

select * from final
