{#-
    The fuzzy tier's features and blocks, as CTEs: int_identity__fuzzy_pairs pairs the records of each block,
    int_identity__blocking_stats reports the blocks' sizes, so the two read one definition of a block.
    Ends with block_keys (one row per feature and block value) and block_sizes (blocks of two or more rows).
-#}
{% macro fuzzy_blocking_ctes() -%}
{%- set workplace_kinds = [1, 2, 3] %}
{%- set workplace_frequencies = {
    1: ('company_frequencies', 'company_key', 'company_frequency'),
    2: ('domain_frequencies', 'work_domain', 'domain_frequency'),
    3: ('landline_frequencies', 'landline', 'landline_frequency'),
} %}
-- Only the columns this model reads. Not materialized: it is read twice (the work domains and the
-- features), and DuckDB would otherwise keep all of it in memory, which at 1M records spilled to disk at
-- the 1 GB limit (the tier ran about 0.5 s slower).
contacts as not materialized (

    select
        record_key,
        name_key,
        email_local_part,
        email_domain,
        is_placeholder_email,
        is_role_email,
        phone,
        phone_type,
        is_placeholder_phone,
        company
    from {{ ref('int_contacts__unioned') }}

),

name_keys as (

    select * from {{ ref('int_identity__name_keys') }}

),

free_email_domains as (

    select * from {{ ref('free_email_domains') }}

),

-- The words as a map, and a pattern that finds them in a name, the longest first (랩스 before 랩). (With the
-- seed emptied both are null, and a company's key is its name as written, romanised.)
company_words as (

    select
        map_from_entries(list(struct_pack(k := hangul, v := latin))) as words,
        string_agg(hangul, '|' order by length(hangul) desc, hangul) as pattern
    from {{ ref('company_words') }}

),

-- Stripping legal forms runs once per distinct company, not once per record. A company written in Hangul
-- is one workplace with its name in Latin letters: its loanwords as the company writes them (seed
-- company_words: 푸드 food), the rest in Revised Romanization, both folded as names are, digits kept
-- (빛고을푸드 and Bitgoeul Food, 우리바이오 and Woori Bio). written_key is the key as written (macro
-- company_key), whose letters a mail domain may be named after.
company_keys as (

    select
        companies.company,
        companies.written_key,
        {{ romanization_fold(hangul_romanized(
            "coalesce(array_to_string(list_transform(string_split(regexp_replace(companies.written_key, company_words.pattern, '|\\0|', 'g'), '|'), lambda part: coalesce(company_words.words[part], part)), ''), companies.written_key)"
        )) }}
        || regexp_replace(companies.written_key, '[^0-9]', '', 'g') as company_key
    from (
        select
            company,
            {{ company_key('company') }} as written_key
        from (
            select distinct company
            from contacts
            where company is not null
        ) as distinct_companies
    ) as companies
    cross join company_words

),

-- The mail domain of each company: the one its records give, when four in five of those that give a
-- work address give it (the records of 대한케이터링 and of Daehan Catering, one company_key, write
-- @daehancatering.co.kr), else a work domain named after the company's letters as written (Dongbang
-- Consulting: dongbangconsulting.kr; 동방컨설팅 shares it through its company_key). A record
-- with the company and no work mailbox (a personal one, or none) then has that workplace too, so
-- 대한케이터링 with a gmail address meets Daehan Catering's work address.
work_domains as (

    select
        company_keys.company_key,
        contacts.email_domain
    from contacts
    left join company_keys
        on contacts.company = company_keys.company
    anti join free_email_domains
        on contacts.email_domain = free_email_domains.domain
    where contacts.email_domain is not null and not contacts.is_placeholder_email

),

company_domains_given as (

    select
        company_key,
        arg_max(email_domain, holder_count) as company_domain
    from (
        select
            company_key,
            email_domain,
            count(*) as holder_count
        from work_domains
        where company_key is not null
        group by company_key, email_domain
    ) as company_domain_counts
    group by company_key
    having max(holder_count) >= 0.8 * sum(holder_count)

),

company_domains_named as (

    select
        company_keys.company_key,
        min(domains.email_domain) as company_domain
    from (select distinct company_key, written_key from company_keys) as company_keys
    inner join (select distinct email_domain from work_domains) as domains
        on regexp_replace(lower(company_keys.written_key), '[^a-z0-9]', '', 'g') = split_part(domains.email_domain, '.', 1)
    where length(split_part(domains.email_domain, '.', 1)) >= 4
    group by company_keys.company_key
    having count(distinct domains.email_domain) = 1

),

company_domains as (

    select
        coalesce(company_domains_given.company_key, company_domains_named.company_key) as company_key,
        coalesce(company_domains_given.company_domain, company_domains_named.company_domain) as company_domain
    from company_domains_given
    full outer join company_domains_named
        on company_domains_given.company_key = company_domains_named.company_key

),

features as materialized (

    select
        -- One row per record and name key (a name read two ways has two): the row's own id.
        (row_number() over ())::integer as feature_id,
        contacts.record_key,
        name_keys.name_match_key,
        hash(name_keys.name_match_key) as name_hash,
        company_keys.company_key,
        case
            when not contacts.is_placeholder_email and not contacts.is_role_email then contacts.email_local_part
        end as mailbox,
        case
            when not contacts.is_placeholder_email and not contacts.is_role_email
                then regexp_replace(contacts.email_local_part, '[^0-9]', '', 'g')
        end as mailbox_digits,
        case when not contacts.is_placeholder_email then contacts.email_domain end as email_domain,
        -- the employer's mail domain: the record's own work address, else its company's (company_domains)
        coalesce(
            case
                when not contacts.is_placeholder_email and free_email_domains.domain is null
                    then contacts.email_domain
            end,
            company_domains.company_domain
        ) as work_domain,
        case
            when not contacts.is_placeholder_email and free_email_domains.domain is null then contacts.email_domain
        end as own_work_domain,
        -- a mobile, or a number whose kind its numbering plan does not tell ('other': a US or Canadian number)
        case
            when not contacts.is_placeholder_phone and contacts.phone_type in ('mobile', 'other')
                then contacts.phone
        end as mobile,
        case
            when
                not contacts.is_placeholder_phone
                and coalesce(contacts.phone_type, '') not in ('mobile', 'other')
                then contacts.phone
        end as landline,
        name_keys.is_hangul,
        contacts.name_key
    from contacts
    inner join name_keys
        on contacts.record_key = name_keys.record_key
    left join free_email_domains
        on contacts.email_domain = free_email_domains.domain
    left join company_keys
        on contacts.company = company_keys.company
    left join company_domains
        on company_keys.company_key = company_domains.company_key

),

-- How common a name or a workplace is, for the pairs' scores: group-bys, cheaper than windows over strings.
name_frequencies as (

    select
        name_match_key,
        count(*) as name_frequency
    from features
    group by name_match_key

),

company_frequencies as (

    select
        company_key,
        count(*) as company_frequency
    from features
    where company_key is not null
    group by company_key

),

domain_frequencies as (

    select
        work_domain,
        count(*) as domain_frequency
    from features
    where work_domain is not null
    group by work_domain

),

landline_frequencies as (

    select
        landline,
        count(*) as landline_frequency
    from features
    where landline is not null
    group by landline

),

record_count as (

    -- at least var identity_min_population: a small warehouse does not make every name common
    select greatest(count(*), {{ var('identity_min_population') }}) as record_count
    from contacts

),

-- Blocks. A pair is a candidate when it shares the name key and one more value: a company, a work
-- domain, a landline (the workplace evidence itself), or a piece of a mobile or a mailbox that one typo
-- leaves whole.
-- A mobile: its digits after the country code are few and its first ones (+8210) tell nothing, so it
-- offers three values. One typo leaves whole its head (all but its last four characters: a typo in the
-- last four spares it), its tail (its last four: a typo before them spares it, an extra or a missing digit
-- too), or, when two digits across the two are swapped, what is left without those two. A string one digit
-- shorter (a typo in its tail) has a head one shorter, so a string also offers the head it would have as the
-- longer of such a pair (as_longer, matched only against other strings' own heads of that length). Each
-- value holds four digits or more that tell people apart, so a block holds one number and its typos, not
-- every namesake whose number starts alike (a register of 12,000 Kim Minjuns shares a thousand mobile
-- heads of three digits).
-- A mailbox: one typo leaves its head (all but its last few characters) or its tail (its last few) whole:
-- a typo near the end spares the head, any other the tail. A string one character shorter (a deletion)
-- has a head one shorter, so a string also offers the head it would have as the longer of such a pair
-- (as_longer, matched only against other strings' own heads). Its blocks also hold the mailbox's digits:
-- two mailboxes whose digits differ are never a typo (email_typo), and minsu.kim1 ... minsu.kim9999 at
-- one domain would otherwise all share a head.
-- Each block value is hashed with its name key and kind into one integer, so all blocks are one join on
-- one narrow table; a typo block carries the whole string's hash and length, to drop the pairs whose
-- strings are the same (most of them: one person's mobile in two records) or too far apart in length.
{#- Each block: (kind, its value, the whole string a typo block compares, whether the value is the head as
    the longer of two). 1-3 the workplace: company, work domain, landline; 4, 5 and 9 a mobile typo: the
    head (with its length; and the head as the longer), the tail, the two without the swapped digits; 6-7 a
    mailbox typo at one domain (both at least 5 characters, see email_typo); 8 the same mailbox at a domain
    with a typo. One select per block, unioned: cheaper than unnesting a list of structs per record. #}
{%- set blocks = [
    (1, 'features.company_key', 'null', 'false'),
    (2, 'features.work_domain', 'null', 'false'),
    (3, 'features.landline', 'null', 'false'),
    (4, "left(mobile, length(mobile) - 4) || '/' || length(mobile)", 'mobile', 'false'),
    (4, "left(mobile, length(mobile) - 5) || '/' || (length(mobile) - 1)", 'mobile', 'true'),
    (5, 'right(mobile, 4)', 'mobile', 'false'),
    (9, 'left(mobile, length(mobile) - 5) || right(mobile, 3)', 'mobile', 'false'),
    (6, "case when length(mailbox) >= 5 then email_domain || '/' || mailbox_digits || '/' || left(mailbox, length(mailbox) - 4) end", 'mailbox', 'false'),
    (6, "case when length(mailbox) >= 6 then email_domain || '/' || mailbox_digits || '/' || left(mailbox, length(mailbox) - 5) end", 'mailbox', 'true'),
    (7, "case when length(mailbox) >= 5 then email_domain || '/' || mailbox_digits || '/' || right(mailbox, 3) end", 'mailbox', 'false'),
    (8, 'mailbox', 'email_domain', 'false'),
] %}
block_keys as materialized (

    {% for kind, value, whole, as_longer in blocks %}
        select
            features.feature_id,
            {{ kind }} as kind,
            {{ as_longer }} as as_longer,
            hash({{ whole }}) as whole_hash,
            length({{ whole }})::smallint as whole_length,
            hash(features.name_hash, {{ kind }}, {{ value }}) as block_hash
        from features
        {%- if kind in workplace_kinds %}
            {%- set frequencies, column, frequency = workplace_frequencies[kind] %}
            inner join name_frequencies
                on features.name_match_key = name_frequencies.name_match_key
            inner join {{ frequencies }}
                on features.{{ column }} = {{ frequencies }}.{{ column }}
            cross join record_count
        {%- endif %}
        where
            {{ value }} is not null
            {%- if kind in workplace_kinds %}
                and name_frequencies.name_frequency::double / record_count.record_count
                * {{ frequencies }}.{{ frequency }} < {{ var('identity_max_expected_namesakes') }}
            {%- endif %}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- How many rows each block holds. A block of one pairs nothing (most of them: most mobiles and mailboxes
-- are one person's); a block over var identity_max_block_size is skipped whole, and counted
-- (int_identity__blocking_stats), so no distribution of names can make the tier quadratic.
block_sizes as materialized (

    select
        block_hash,
        any_value(kind) as kind,
        count(*) as block_size
    from block_keys
    group by block_hash
    having count(*) > 1

)
{%- endmacro %}
