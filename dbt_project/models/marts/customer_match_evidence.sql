-- Why records are one customer: one row per link that joins a record to the rest of its customer.
--   email, phone             a personal value the record shares with other records of the customer
--   email_name, phone_name   a team value (role mailbox, switchboard, a value several people use) shared
--                            together with the same name
--   fuzzy                    a fuzzy-tier pair (int_identity__fuzzy_pairs): the other record, the score and
--                            the evidence that added up to it
--   must_link                a reviewed override (seed identity_overrides): the other record and the reason
-- A key link names the value and how many of the customer's records share it. A pair link is listed from
-- both ends. Links between records that ended up in different customers (a cannot_link override split them)
-- are not listed: they joined nothing. "Why are these one customer?": select * where customer_id = ....
with

customer_ids as (

    select * from {{ ref('int_identity__customer_ids') }}

),

match_keys as (

    select * from {{ ref('int_identity__match_keys') }}

),

fuzzy_pairs as (

    select * from {{ ref('int_identity__fuzzy_pairs') }}

),

overrides as (

    select * from {{ ref('identity_overrides') }}

),

keyed_records as (

    select
        customer_ids.customer_id,
        match_keys.record_key,
        match_keys.key_type,
        match_keys.match_key,
        count(*) over (partition by customer_ids.customer_id, match_keys.match_key) as holder_count
    -- int_identity__match_keys lists only keys two or more records hold
    from match_keys
    inner join customer_ids
        on match_keys.record_key = customer_ids.record_key

),

key_links as (

    select
        customer_id,
        record_key,
        key_type as rule,
        -- a name-qualified key reads "value with name"
        replace(match_key, '|', ' with ') || ' (' || holder_count || ' records)' as evidence,
        cast(null as varchar) as linked_record_key,
        cast(null as double) as score
    from keyed_records
    where holder_count > 1

),

pairs as (

    select
        record_key_a,
        record_key_b,
        'fuzzy' as rule,
        evidence,
        score
    from fuzzy_pairs

    union all

    select
        record_key_a,
        record_key_b,
        'must_link' as rule,
        reason || ' (' || decided_by || ', ' || decided_on || ')' as evidence,
        cast(null as double) as score
    from overrides
    where decision = 'must_link'

),

pair_ends as (

    select
        record_key_a as record_key,
        record_key_b as linked_record_key,
        rule,
        evidence,
        score
    from pairs

    union all

    select
        record_key_b as record_key,
        record_key_a as linked_record_key,
        rule,
        evidence,
        score
    from pairs

),

pair_links as (

    select
        a.customer_id,
        pair_ends.record_key,
        pair_ends.rule,
        pair_ends.evidence,
        pair_ends.linked_record_key,
        pair_ends.score
    from pair_ends
    inner join customer_ids as a
        on pair_ends.record_key = a.record_key
    inner join customer_ids as b
        on pair_ends.linked_record_key = b.record_key
    where a.customer_id = b.customer_id

),

links as (

    select * from key_links
    union all
    select * from pair_links

),

final as (

    -- source and source_record_id are read off the record keys (macro record_key_source), not joined
    select
        customer_id,
        {{ record_key_source('record_key') }} as source,
        {{ record_key_source_record_id('record_key') }} as source_record_id,
        rule,
        evidence,
        {{ record_key_source('linked_record_key') }} as linked_source,
        {{ record_key_source_record_id('linked_record_key') }} as linked_source_record_id,
        score
    from links

)

select * from final
