with

rejected as (

    {{ union_contact_staging([
        'source',
        'source_record_id',
        'source_file',
        'source_sheet',
        'source_row',
        'rejection_reason as reason',
        'raw_row',
        'loaded_at',
        'load_id',
    ], rejected=true) }}

),

final as (

    select * from rejected

)

select * from final
