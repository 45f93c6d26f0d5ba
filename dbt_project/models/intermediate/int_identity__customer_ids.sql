-- Ids come from the customer id map (what each record was called after the last successful run), not from
-- this run's cluster numbers, so a customer keeps its id through re-runs, rebuilds, new members, merges and a
-- changed anchor. Three rounds, each only for the clusters the rounds before left unnamed:
--   1. every id of the map claims the cluster holding most of its records born into it (their first map
--      entry), then the one born longest ago, then most of its records: an id follows its own people, not the
--      records a merge brought in; a cluster claimed by several ids keeps the oldest (first in the map, then
--      earliest landed records, then the id) and the others are merged away;
--   2. an id that names nobody now comes back on the cluster of the records born into it (a merge undone);
--   3. any other cluster gets 'cus_' || md5 of its anchor, or, when the map already used that id, md5 of the
--      anchor and the map's latest batch: an id is never given to a second customer.
-- With an empty map every cluster is named in round 3: the id of its earliest landed member.
with

clusters as (

    select * from {{ ref('int_identity__clusters') }}

),

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

id_map as (

    select * from {{ ref('stg_identity__customer_id_map') }}

),

members as (

    select
        clusters.record_key,
        clusters.cluster_id,
        contacts.source,
        contacts.source_record_id,
        contacts.first_loaded_at,
        row_number() over (
            partition by clusters.cluster_id
            order by contacts.first_loaded_at, contacts.source, contacts.source_record_id
        ) as anchor_rank
    from clusters
    inner join contacts
        on clusters.record_key = contacts.record_key

),

anchors as (

    select
        cluster_id,
        record_key as anchor_record_key,
        'cus_' || left(md5(record_key), 16) as anchor_customer_id
    from members
    where anchor_rank = 1

),

known_ids as (

    select
        customer_id,
        min(loaded_at) as first_mapped_at
    from id_map
    group by customer_id

),

ranked_map_loads as (

    select
        load_id,
        row_number() over (order by loaded_at desc, load_id desc) as load_rank
    from id_map

),

latest_map_load as (

    -- always one row: null while the map is empty
    select max(load_id) as load_id
    from ranked_map_loads
    where load_rank = 1

),

member_ids as (

    select
        members.record_key,
        members.cluster_id,
        members.first_loaded_at,
        previous_ids.customer_id as previous_customer_id,
        native_ids.customer_id as native_customer_id,
        native_ids.loaded_at as native_since
    from members
    left join id_map as previous_ids
        on members.record_key = previous_ids.record_key and previous_ids.is_latest
    left join id_map as native_ids
        on members.record_key = native_ids.record_key and native_ids.is_first_entry

),

claims as (

    select
        previous_customer_id as customer_id,
        cluster_id,
        count(*) filter (where native_customer_id = previous_customer_id) as native_count,
        min(native_since) filter (where native_customer_id = previous_customer_id) as native_since,
        count(*) as record_count,
        min(first_loaded_at) as first_loaded_at,
        min(record_key) as first_record_key
    from member_ids
    where previous_customer_id is not null
    group by previous_customer_id, cluster_id

),

ranked_claims as (

    select
        *,
        min(first_loaded_at) over (partition by customer_id) as id_first_loaded_at,
        row_number() over (
            partition by customer_id
            order by
                native_count desc,
                native_since asc,
                record_count desc,
                first_loaded_at asc,
                first_record_key asc
        ) as claim_rank
    from claims

),

contested_claims as (

    select
        ranked_claims.cluster_id,
        ranked_claims.customer_id,
        row_number() over (
            partition by ranked_claims.cluster_id
            order by known_ids.first_mapped_at, ranked_claims.id_first_loaded_at, ranked_claims.customer_id
        ) as seniority_rank
    from ranked_claims
    inner join known_ids
        on ranked_claims.customer_id = known_ids.customer_id
    where ranked_claims.claim_rank = 1

),

kept_ids as (

    select
        cluster_id,
        customer_id
    from contested_claims
    where seniority_rank = 1

),

reinstatement_claims as (

    select
        member_ids.native_customer_id as customer_id,
        member_ids.cluster_id,
        count(*) as native_count,
        min(member_ids.first_loaded_at) as first_loaded_at,
        min(member_ids.record_key) as first_record_key
    from member_ids
    left join kept_ids as kept_clusters
        on member_ids.cluster_id = kept_clusters.cluster_id
    left join kept_ids as kept_customers
        on member_ids.native_customer_id = kept_customers.customer_id
    where
        member_ids.native_customer_id is not null
        and kept_clusters.cluster_id is null
        and kept_customers.customer_id is null
    group by member_ids.native_customer_id, member_ids.cluster_id

),

ranked_reinstatement_claims as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by native_count desc, first_loaded_at asc, first_record_key asc
        ) as claim_rank
    from reinstatement_claims

),

contested_reinstatements as (

    select
        ranked_reinstatement_claims.cluster_id,
        ranked_reinstatement_claims.customer_id,
        row_number() over (
            partition by ranked_reinstatement_claims.cluster_id
            order by
                known_ids.first_mapped_at,
                ranked_reinstatement_claims.first_loaded_at,
                ranked_reinstatement_claims.customer_id
        ) as seniority_rank
    from ranked_reinstatement_claims
    inner join known_ids
        on ranked_reinstatement_claims.customer_id = known_ids.customer_id
    where ranked_reinstatement_claims.claim_rank = 1

),

reinstated_ids as (

    select
        cluster_id,
        customer_id
    from contested_reinstatements
    where seniority_rank = 1

),

named_clusters as (

    select * from kept_ids
    union all
    select * from reinstated_ids

),

minted_ids as (

    select
        anchors.cluster_id,
        case
            when known_ids.customer_id is null then anchors.anchor_customer_id
            else 'cus_' || left(md5(anchors.anchor_record_key || '@' || latest_map_load.load_id), 16)
        end as customer_id
    from anchors
    cross join latest_map_load
    left join named_clusters
        on anchors.cluster_id = named_clusters.cluster_id
    left join known_ids
        on anchors.anchor_customer_id = known_ids.customer_id
    where named_clusters.cluster_id is null

),

assigned_ids as (

    select * from named_clusters
    union all
    select * from minted_ids

),

final as (

    select
        members.record_key,
        assigned_ids.customer_id,
        anchors.anchor_record_key,
        members.record_key = anchors.anchor_record_key as is_anchor
    from members
    inner join anchors
        on members.cluster_id = anchors.cluster_id
    inner join assigned_ids
        on members.cluster_id = assigned_ids.cluster_id

)

select * from final
