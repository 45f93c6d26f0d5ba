-- A customer is named after its anchor, the member first landed (ties: source, source_record_id), so the
-- id survives re-runs and new members; when two customers merge, the older anchor's id carries on.
with

clusters as (

    select * from {{ ref('int_identity__clusters') }}

),

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

members as (

    select
        clusters.record_key,
        clusters.cluster_id,
        contacts.source,
        contacts.source_record_id,
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
        'cus_' || left(md5(source || ':' || source_record_id), 16) as customer_id
    from members
    where anchor_rank = 1

),

final as (

    select
        members.record_key,
        anchors.customer_id,
        anchors.anchor_record_key,
        members.record_key = anchors.anchor_record_key as is_anchor
    from members
    inner join anchors
        on members.cluster_id = anchors.cluster_id

)

select * from final
