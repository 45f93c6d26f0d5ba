-- A retired id is one the map gave that names no customer now, while records it named are still here: it was
-- merged into the customer those records belong to now. Its last members are the records it named last (the
-- ones that left it in the batch that retired it, or, before the map has recorded that, the ones it still
-- names there); their current id is the survivor, so a chain of merges resolves to today's customer.
with

id_map as (

    select * from {{ ref('stg_identity__customer_id_map') }}

),

customer_ids as (

    select * from {{ ref('int_identity__customer_ids') }}

),

current_customers as (

    select distinct customer_id
    from customer_ids

),

entries as (

    select
        record_key,
        customer_id,
        lead(loaded_at) over (
            partition by record_key
            order by loaded_at, load_id
        ) as superseded_at
    from id_map

),

retired_entries as (

    select
        entries.record_key,
        entries.customer_id as retired_customer_id,
        entries.superseded_at,
        customer_ids.customer_id
    from entries
    inner join customer_ids
        on entries.record_key = customer_ids.record_key
    left join current_customers
        on entries.customer_id = current_customers.customer_id
    where current_customers.customer_id is null

),

last_members as (

    select
        *,
        rank() over (
            partition by retired_customer_id
            order by superseded_at desc nulls first
        ) as recency_rank
    from retired_entries

),

survivors as (

    select
        retired_customer_id,
        customer_id,
        superseded_at,
        row_number() over (
            partition by retired_customer_id
            order by count(*) desc, customer_id
        ) as survivor_rank
    from last_members
    where recency_rank = 1
    group by retired_customer_id, customer_id, superseded_at

),

final as (

    select
        retired_customer_id,
        customer_id,
        coalesce(superseded_at, current_timestamp) as retired_at,
        'merged' as reason
    from survivors
    where survivor_rank = 1

)

select * from final
