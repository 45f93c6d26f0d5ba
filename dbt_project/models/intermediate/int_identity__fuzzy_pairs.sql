-- The fuzzy tier: pairs of records that no shared key joins but whose evidence, added up, says they are one
-- person. Every pair has the same name key (int_identity__name_keys: 김민수 = Minsu Kim = Kim Min-soo), so
-- the name is the base of every score; the name alone never reaches the threshold, and a Hangul name is
-- never compared by string similarity (short Hangul names are too alike: that merges namesakes).
--
-- Evidence, with its weight (var identity_fuzzy_weights; the threshold is var identity_fuzzy_threshold):
--   name       the same name key; a rare one (held by at most 3 records) weighs one more, a common one (more
--              than 20) one less: namesakes at one company are rare only for rare names
--   workplace  the same company (macro company_key), the same work email domain (not free mail) or the same
--              office landline: one fact, however many of the three agree, so it counts once; and only when
--              the workplace is small enough for the name to be rare there: its records times the name's
--              share of all records (the namesakes it holds by chance) below var
--              identity_max_expected_namesakes. Two Kim Minsus at a 2,000-person company prove nothing.
-- Two Hangul names must be the same Hangul name: the fold joins spellings across scripts, not 준연 and 준윤.
--   phone_typo mobiles one edit apart (one wrong, missing, extra or swapped digit)
--   email_typo the same mailbox one edit apart at the same domain, or the same mailbox at a domain one edit
--              apart (gmial.com)
--   against    two different mobiles that are no typo of each other, two different companies, and two
--              different mailboxes at one work domain count against
-- The same mailbox name at two domains (minsu.kim at naver and at gmail) is no evidence: it repeats the
-- name. Nor are two mailboxes one letter apart when they fold alike (kimminsoo / gimminsoo): those are two
-- spellings of one name, so two namesakes.
-- Candidate pairs come from blocks that share the name key and one more value (company, domain, landline,
-- the head or the tail of the mobile or of the mailbox at one domain, the mailbox: macro
-- fuzzy_blocking_ctes), and a typo block keeps only pairs of different strings of about one length. The
-- cost is bounded whatever the names: a workplace block enters only when the workplace is small enough for
-- its name to be rare there (else it could not count, so its pairs would score nothing: exact), a mailbox
-- block is split by the mailbox's digits (two mailboxes whose digits differ are never a typo: exact), and a
-- block over var identity_max_block_size is skipped and counted in int_identity__blocking_stats.
-- Placeholders and role mailboxes take no part; a shared office landline is the workplace fact it is.
{%- set weights = var('identity_fuzzy_weights') %}
{%- set workplace_kinds = [1, 2, 3] %}
with

{{ fuzzy_blocking_ctes() }},

-- The rows of the blocks that pair something and are no larger than the cap.
kept_block_keys as materialized (

    select *
    from block_keys
    where block_hash in (
        select block_sizes.block_hash
        from block_sizes
        where block_sizes.block_size <= {{ var('identity_max_block_size') }}
    )

),

-- A typo block's pair enters when its two strings differ by at most one in length; whether they are one
-- edit apart is read when the pair is scored (phone_typo, email_typo), once per pair, as is every other
-- value: two values that share a hash only by chance join nothing. (Testing the edit here, on every pair a
-- block offers, cost more than scoring the few extra pairs.)
candidates as materialized (

    select distinct
        least(feature_id_a, feature_id_b) as feature_id_a,
        greatest(feature_id_a, feature_id_b) as feature_id_b
    from (
        select
            a.feature_id as feature_id_a,
            b.feature_id as feature_id_b
        from kept_block_keys as a
        inner join kept_block_keys as b
            on
                a.block_hash = b.block_hash
                and a.kind = b.kind
                and a.feature_id < b.feature_id
        where
            not a.as_longer
            and not b.as_longer
            and (
                a.kind in ({{ workplace_kinds | join(', ') }})
                or (a.whole_hash != b.whole_hash and abs(a.whole_length - b.whole_length) <= 1)
            )

        union all

        -- a head as the longer meets only the heads of the strings it is the longer of, not others like it
        select
            a.feature_id as feature_id_a,
            b.feature_id as feature_id_b
        from kept_block_keys as a
        inner join kept_block_keys as b
            on
                a.block_hash = b.block_hash
                and a.kind = b.kind
        where
            a.as_longer
            and not b.as_longer
            and a.whole_hash != b.whole_hash
            and abs(a.whole_length - b.whole_length) <= 1
    ) as block_pairs

),

compared as materialized (

    select
        -- (every column below reads a and b alike, so the pair's order is the record keys')
        least(a.record_key, b.record_key) as record_key_a,
        greatest(a.record_key, b.record_key) as record_key_b,
        a.name_match_key,
        -- 김민수 and Kim Minsu are one name; 김준연 and 김준윤 fold alike but are two
        coalesce(a.is_hangul and b.is_hangul and a.name_key != b.name_key, false) as different_hangul_names,
        -- the workplace facts the two share
        case when a.company_key = b.company_key then a.company_key end as shared_company_key,
        case when a.work_domain = b.work_domain then a.work_domain end as shared_work_domain,
        case when a.landline = b.landline then a.landline end as shared_landline,
        {{ one_edit_apart('a.mobile', 'b.mobile') }} as phone_typo,
        -- (case, not and: the costly tests run only for the few pairs that get that far)
        case
            when
                a.email_domain = b.email_domain
                and least(length(a.mailbox), length(b.mailbox)) >= 5
                and {{ one_edit_apart('a.mailbox', 'b.mailbox') }}
                then case
                    -- minsu85 and minsu86 are two people's mailboxes, not a typo
                    when regexp_replace(a.mailbox, '[^0-9]', '', 'g') != regexp_replace(b.mailbox, '[^0-9]', '', 'g')
                        then false
                    -- kimminsoo and gimminsoo, minseo.kim and minsoo.kim: two spellings of a name, two people
                    else {{ romanization_fold('a.mailbox') }} != {{ romanization_fold('b.mailbox') }}
                end
            when a.mailbox = b.mailbox then {{ one_edit_apart('a.email_domain', 'b.email_domain') }}
            else false
        end as email_typo,
        -- one person has one mailbox at their workplace's domain
        coalesce(a.own_work_domain = b.own_work_domain and a.mailbox != b.mailbox, false)
            as different_work_mailboxes,
        -- (not a typo: phone_typo, read in evidence below)
        coalesce(a.mobile != b.mobile, false) as different_mobile_numbers,
        -- two companies or two employers' mail domains, and no workplace fact in common
        coalesce(a.company_key != b.company_key or a.work_domain != b.work_domain, false)
        and not coalesce(
            a.company_key = b.company_key or a.work_domain = b.work_domain or a.landline = b.landline, false
        ) as different_companies
    from candidates
    -- Joined by row id; the names are compared again because the blocks matched on hashes (and a record
    -- whose two readings give one key, Gim Kim, has two rows that must not pair with each other).
    inner join features as a
        on candidates.feature_id_a = a.feature_id
    inner join features as b
        on
            candidates.feature_id_b = b.feature_id
            and a.name_match_key = b.name_match_key
            and a.record_key != b.record_key

),

-- The frequencies are looked up only for the pairs that could still reach the threshold: their score with
-- the most a name and a workplace can weigh. Most candidates (two mobiles, no typo) cannot.
scored as (

    select
        compared.*,
        name_frequencies.name_frequency,
        -- How many namesakes the shared workplace would hold by chance: its records times the name's share
        name_frequencies.name_frequency::double / record_count.record_count * least(
            company_frequencies.company_frequency,
            domain_frequencies.domain_frequency,
            landline_frequencies.landline_frequency
        ) as expected_namesakes
    from compared
    inner join name_frequencies
        on compared.name_match_key = name_frequencies.name_match_key
    left join company_frequencies
        on compared.shared_company_key = company_frequencies.company_key
    left join domain_frequencies
        on compared.shared_work_domain = domain_frequencies.work_domain
    left join landline_frequencies
        on compared.shared_landline = landline_frequencies.landline
    cross join record_count
    where
        not compared.different_hangul_names
        and {{ weights['name'] }} + 1
        + case
            when coalesce(compared.shared_company_key, compared.shared_work_domain, compared.shared_landline) is not null
                then {{ weights['workplace'] }}
            else 0
        end
        {{ fuzzy_typo_and_against_weights('compared.') }}
        >= {{ var('identity_fuzzy_threshold') }}

),

evidence as (

    select
        *,
        {{ weights['name'] }}
        + case when name_frequency <= 3 then 1 when name_frequency > 20 then -1 else 0 end
        + case
            when expected_namesakes < {{ var('identity_max_expected_namesakes') }} then {{ weights['workplace'] }}
            else 0
        end
        {{ fuzzy_typo_and_against_weights('') }}
            as score
    from scored

),

final as (

    select
        record_key_a,
        record_key_b,
        score,
        concat_ws(
            ', ',
            'name ' || name_match_key,
            case
                when expected_namesakes < {{ var('identity_max_expected_namesakes') }} then 'same workplace'
            end,
            case when phone_typo then 'mobiles one digit apart' end,
            case when email_typo then 'emails one character apart' end,
            case when different_work_mailboxes then 'different mailboxes at one work domain' end,
            case when different_mobile_numbers and not phone_typo then 'different mobiles' end,
            case when different_companies then 'different companies' end
        ) as evidence
    from evidence
    where score >= {{ var('identity_fuzzy_threshold') }}
    -- a name read two ways can pair two records twice: keep the better
    qualify row_number() over (partition by record_key_a, record_key_b order by score desc, evidence asc) = 1

)

select * from final
