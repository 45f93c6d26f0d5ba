{#-
    Fails when this run retires (merges away) more than max_share of the customers the previous run named,
    counting only ids that still have records here (a deleted customer is not a merge), and only once at
    least min_merges ids are retired (a handful of merges is ordinary). A role mailbox read as personal, or
    a placeholder phone missing from the seed, can join thousands of people in one run; with error severity
    dbt skips everything downstream, so customers and campaigns keep the previous run's ids and the map is
    not persisted. For a legitimate bulk merge on-call raises the limit for one run (docs/identity.md).
-#}
{% test merge_share_within_limit(model, column_name, previous_map, max_share=none, min_merges=none) %}

{%- set max_share = max_share if max_share is not none else var('identity_max_merge_share') -%}
{%- set min_merges = min_merges if min_merges is not none else var('identity_min_merges_to_check') -%}

with

previous_map as (

    select * from {{ previous_map }}

),

assigned as (

    select
        record_key,
        {{ column_name }} as customer_id
    from {{ model }}

),

previous_customers as (

    select distinct previous_map.customer_id
    from previous_map
    inner join assigned
        on previous_map.record_key = assigned.record_key
    where previous_map.is_latest

),

current_customers as (

    select distinct customer_id
    from assigned

),

retired_customers as (

    select previous_customers.customer_id
    from previous_customers
    left join current_customers
        on previous_customers.customer_id = current_customers.customer_id
    where current_customers.customer_id is null

),

counts as (

    select
        (select count(*) from previous_customers) as previous_customer_count,
        (select count(*) from retired_customers) as retired_customer_count

)

select
    previous_customer_count,
    retired_customer_count,
    {{ max_share }} as max_merge_share,
    {{ min_merges }} as min_merges_to_check
from counts
where
    retired_customer_count >= {{ min_merges }}
    and retired_customer_count > {{ max_share }} * previous_customer_count

{% endtest %}
