-- A key joins records only when it identifies one person, and only keys two or more records hold are listed:
-- a key one record holds joins nothing (most values are such, about two in three at 1M records).
-- Role mailboxes (info@, sales@) and team values identify a team, so they join only together with the name;
-- a record without a name cannot use them.
-- Placeholders identify nobody and are dropped: placeholder plus name would be a join on the name alone.
--
-- Names compare by their identity name: the romanised name key (int_identity__name_keys), so 김민수, Minsu
-- Kim and Kim Min-soo are one name, else the spelling-insensitive name_key. Which values are team values
-- depends on what kind of value it is. A landline (or any number that is not a mobile) written next to two
-- different names is an office switchboard. A mobile number or a personal mailbox belongs to one person,
-- whose name may be written with a typo or a variant (김민수 / 김민슈, Jonathan / Jonathon): names that
-- alike (Jaro-Winkler at least var identity_same_name_similarity) are still one person. Two names that are
-- not alike on it (김철수 and 이순자 behind the owner's mobile of a small shop, a family's shared mobile, a
-- made-up address many people type) are two people, and the value becomes a team value. One exception:
-- a personal mailbox under a Hangul name and a Latin name with the same surname (김하연 / David Kim) is one
-- person who took an English given name; on a shared mobile, which families share, only when the Latin given
-- name cannot be read as romanised Korean (David Kim, not Minji Kim: macro reads_as_korean_given_name).
-- Names typed twice by hand are alike (macro hand_typed_variants; across scripts, names_across_scripts).
-- A number of unknown kind (phone_type 'other': US and Canadian numbers) is personal like a mobile.
-- A romanised name whose surname is misspelt (Yuwon Leee) is the Korean name next to it (이유원) when its
-- other words are that given name and its odd word is one typo from a spelling of the surname.
--
-- Two strong personal values together (the same personal mailbox and the same mobile) join whatever the
-- names say (민수김 / 김민수, a typo, a nickname): two people rarely share both. A family that does is kept
-- apart by a cannot_link override. Neither value may be one that four or more names share (a made-up
-- address, a shop's phone): those identify nobody, even together.
--
-- A team value joins only the records with the same name on it, and only when the team is small enough for
-- the name to be rare in it: its holders times the name's share of all records (the namesakes it holds by
-- chance) below var identity_max_expected_namesakes. Two Kim Minsus on the switchboard of a company of
-- 2,000 are likely two people; two Park Jiwoos on a shop's landline are one.
with

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

name_keys as (

    select * from {{ ref('int_identity__name_keys') }}

),

surnames as (

    select * from {{ ref('korean_surnames') }}

),

-- A Latin name read two ways (Min Ho Han) has two name keys; the likelier one names it here.
identity_names as (

    select
        record_key,
        name_match_key as identity_name,
        is_hangul
    from name_keys
    where is_likelier_reading

),

named_contacts as (

    select
        contacts.*,
        coalesce(identity_names.identity_name, contacts.name_key) as identity_name,
        identity_names.is_hangul
    from contacts
    left join identity_names
        on contacts.record_key = identity_names.record_key

),

email_values as (

    select
        record_key,
        identity_name,
        name_key,
        full_name,
        is_hangul,
        'email' as key_kind,
        email as key_value,
        is_role_email as is_team_value,
        not is_role_email as is_personal_value
    from named_contacts
    where email is not null and not is_placeholder_email

),

phone_values as (

    select
        record_key,
        identity_name,
        name_key,
        full_name,
        is_hangul,
        'phone' as key_kind,
        phone as key_value,
        false as is_team_value,
        -- a mobile, or a number whose kind its numbering plan does not tell (phone_type 'other': a US or
        -- Canadian number, landed so from phonenumbers' FIXED_LINE_OR_MOBILE), most often a foreign
        -- contact's own phone; an office line among them shows itself by two different names, like a mobile
        coalesce(phone_type in ('mobile', 'other'), false) as is_personal_value
    from named_contacts
    where phone is not null and not is_placeholder_phone

),

key_values as (

    select * from email_values
    union all
    select * from phone_values

),

-- A value that is no record's team value and is written next to one name at most is a key on its own:
-- nothing below can make it need the name. Only the other values, a few percent, go through the
-- classification, so that its group-bys and joins run on their records, not on every key value.
value_stats as (

    select
        key_kind,
        key_value,
        count(*) as holder_count,
        -- contested: a holder's team flag is set or unknown (null: the classification decides), or two
        -- different names or more are written next to it (records without a name aside; compared by their
        -- hashes, which group faster than strings: at 1M records the model ran 15% faster)
        coalesce(
            bool_or(coalesce(is_team_value, true))
            or min(hash(identity_name)) filter (where identity_name is not null)
            != max(hash(identity_name)) filter (where identity_name is not null),
            false
        ) as is_contested
    from key_values
    group by key_kind, key_value

),

contested_values as (

    select
        key_kind,
        key_value,
        holder_count
    from value_stats
    where is_contested

),

-- Uncontested values two or more records hold.
shared_uncontested_values as (

    select
        key_kind,
        key_value
    from value_stats
    where not is_contested and holder_count > 1

),

contested_key_values as (

    select key_values.*
    from key_values
    semi join contested_values
        on
            key_values.key_kind = contested_values.key_kind
            and key_values.key_value = contested_values.key_value

),

value_names as (

    select
        key_kind,
        key_value,
        identity_name,
        bool_and(is_personal_value) as is_personal_value,
        bool_or(is_hangul) as is_hangul,
        -- the name's letters in the order typed (case, spaces and punctuation aside) and in word order
        -- (name_key): Barbar aFord is Barbara Ford, kRobert Nguyen one letter from Robert Nguyen
        min(regexp_replace(lower(nfc_normalize(full_name)), '[^\p{L}]', '', 'g')) as letters,
        min(name_key) as name_key
    from contested_key_values
    where identity_name is not null
    group by key_kind, key_value, identity_name

),

-- A name that may be a given name alone (two Hangul syllables, or one word with no name key: 지훈,
-- Jihoon), romanised and folded, to compare with another name's given name.
value_names_folded as (

    select
        *,
        case
            when (is_hangul and length(letters) = 2) or not contains(identity_name, ':')
                then {{ romanization_fold(hangul_romanized('letters')) }}
        end as lone_given_fold
    from value_names

),

name_counts as (

    select
        key_kind,
        key_value,
        count(*) as name_count
    from value_names
    group by key_kind, key_value
    having count(*) > 1

),

-- Values with two or three names: compare the names pair by pair. (Materialized, so that the pairwise
-- join runs on these few values only, not on every value.)
few_named as materialized (

    select value_names_folded.*
    from value_names_folded
    inner join name_counts
        on
            value_names_folded.key_kind = name_counts.key_kind
            and value_names_folded.key_value = name_counts.key_value
    where name_counts.name_count <= 3

),

-- Pairs of different names on one value with two or three names.
name_pairs as (

    select
        a.key_kind,
        a.key_value,
        a.identity_name as name_a,
        b.identity_name as name_b,
        a.is_personal_value and b.is_personal_value as is_personal_value,
        a.is_hangul as is_hangul_a,
        b.is_hangul as is_hangul_b,
        a.letters as letters_a,
        b.letters as letters_b,
        a.name_key as name_key_a,
        b.name_key as name_key_b,
        a.lone_given_fold as lone_given_fold_a,
        b.lone_given_fold as lone_given_fold_b
    from few_named as a
    inner join few_named as b
        on
            a.key_kind = b.key_kind
            and a.key_value = b.key_value
            and a.identity_name < b.identity_name

),

-- The spellings of each surname in use (seed korean_surnames), folded: Kim and Gim, Park and Pak, ...
surname_folds as (

    select distinct
        surname,
        {{ romanization_fold('romanization') }} as surname_fold
    from surnames

),

-- Pairs on a personal value read across scripts, one side for the other, where a hand-typed variant can
-- count (the pairs of hand_typed_variants, below, read within one script):
-- - a romanised Korean name typed with its space lost or shifted (Mins uKim / 김민수): the Latin letters,
--   folded, are the Korean name's given name and surname run together in either order, in a spelling of
--   the surname in use (the folded parts are put together, not folded together: the few names a fold
--   across the joint would change, Hyeon + Gang, are not read so);
-- - a three-syllable Hangul name with its surname and the next syllable swapped (수박빈 / Subin Park): read
--   back, it is the other name (박:supin).
name_sides as (

    select
        key_kind,
        key_value,
        name_a,
        name_b,
        name_a as this_name,
        letters_a as these_letters,
        is_hangul_a as this_is_hangul,
        name_b as other_name,
        letters_b as other_letters,
        is_hangul_b as other_is_hangul
    from name_pairs
    where is_personal_value

    union all

    select
        key_kind,
        key_value,
        name_a,
        name_b,
        name_b as this_name,
        letters_b as these_letters,
        is_hangul_b as this_is_hangul,
        name_a as other_name,
        letters_a as other_letters,
        is_hangul_a as other_is_hangul
    from name_pairs
    where is_personal_value

),

names_across_scripts as (

    select
        name_sides.key_kind,
        name_sides.key_value,
        name_sides.name_a,
        name_sides.name_b
    from (
        select
            *,
            {{ romanization_fold('other_letters') }} as other_fold
        from name_sides
        where
            contains(this_name, ':')
            and not starts_with(this_name, 'en:')
            and not coalesce(other_is_hangul, false)
    ) as name_sides
    inner join surname_folds
        on
            split_part(name_sides.this_name, ':', 1) = surname_folds.surname
            and name_sides.other_fold in (
                split_part(name_sides.this_name, ':', 2) || surname_folds.surname_fold,
                surname_folds.surname_fold || split_part(name_sides.this_name, ':', 2)
            )

    union

    select
        key_kind,
        key_value,
        name_a,
        name_b
    from name_sides
    where
        this_is_hangul
        and regexp_full_match(these_letters, '\p{Hangul}{3}')
        and substr(these_letters, 2, 1) || ':'
        || {{ romanization_fold(hangul_romanized("substr(these_letters, 1, 1) || substr(these_letters, 3, 1)")) }}
        = other_name

),

-- A romanised name with a misspelt surname (Yuwon Leee, Hawoo Klm, Cna Minji) reads as no Korean name, so
-- it keys as a western one ("en:leee yuwon") and never compares with 이유원 ("이:yuwun"). On a personal
-- value shared with a Korean name it is that name when its other words are the Korean given name and its
-- odd word is one typo from a spelling of that surname (seed korean_surnames) and of no other: 이유원 /
-- Yuwon Leee is one person; 이유원 / Yuwon Paark, Yuwon P. or Cna Yuwon stay two.
latin_next_to_korean as (

    select
        key_kind,
        key_value,
        name_a,
        name_b,
        case when starts_with(name_a, 'en:') then name_b else name_a end as korean_name,
        string_split(substr(case when starts_with(name_a, 'en:') then name_a else name_b end, 4), ' ')
            as latin_words
    from name_pairs
    where
        is_personal_value
        and starts_with(name_a, 'en:') != starts_with(name_b, 'en:')
        and contains(case when starts_with(name_a, 'en:') then name_b else name_a end, ':')

),

{#- (words in the Latin name, the word read as the surname, the words read as the given name, in order) #}
{%- set readings = [
    (2, 1, [2]), (2, 2, [1]),
    (3, 1, [2, 3]), (3, 1, [3, 2]), (3, 2, [1, 3]), (3, 2, [3, 1]), (3, 3, [1, 2]), (3, 3, [2, 1]),
] %}

-- Each way to read the Latin name as a given name and a surname, where the given name is the Korean one.
given_name_readings as (

    {% for word_count, surname_word, given_words in readings %}
        {%- set given_name = [] %}
        {%- for word in given_words %}
            {%- do given_name.append('latin_words[' ~ word ~ ']') %}
        {%- endfor %}
        select
            key_kind,
            key_value,
            name_a,
            name_b,
            korean_name,
            latin_words[{{ surname_word }}] as surname_word
        from latin_next_to_korean
        where
            len(latin_words) = {{ word_count }}
            and {{ romanization_fold('concat(' ~ given_name | join(', ') ~ ')') }} = split_part(korean_name, ':', 2)
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- The surnames the odd word is, or is one typo from. It must be at least three letters (a single letter or
-- two are one typo from a dozen spellings: an initial, "Lo", "Ki") and near one surname only: "Cna" is
-- one typo from Cha and from Na, so it names nobody.
near_surnames as (

    select
        given_name_readings.*,
        surnames.surname
    from given_name_readings
    inner join surnames
        on
            given_name_readings.surname_word = surnames.romanization
            or {{ one_edit_apart('given_name_readings.surname_word', 'surnames.romanization') }}
    where length(given_name_readings.surname_word) >= 3

),

misspelt_surnames as (

    select
        key_kind,
        key_value,
        name_a,
        name_b
    from near_surnames
    group by key_kind, key_value, name_a, name_b, korean_name, surname_word
    having count(distinct surname) = 1 and any_value(surname) = split_part(korean_name, ':', 1)

),

shared_values as (

    -- Four or more different names on one value: nobody's own (a made-up address, a shop's phone).
    select
        key_kind,
        key_value
    from name_counts
    where name_count > 3

    union

    select
        name_pairs.key_kind,
        name_pairs.key_value
    from name_pairs
    anti join misspelt_surnames
        on
            name_pairs.key_kind = misspelt_surnames.key_kind
            and name_pairs.key_value = misspelt_surnames.key_value
            and name_pairs.name_a = misspelt_surnames.name_a
            and name_pairs.name_b = misspelt_surnames.name_b
    anti join names_across_scripts
        on
            name_pairs.key_kind = names_across_scripts.key_kind
            and name_pairs.key_value = names_across_scripts.key_value
            and name_pairs.name_a = names_across_scripts.name_a
            and name_pairs.name_b = names_across_scripts.name_b
    where
        not name_pairs.is_personal_value
        or (
            -- Korean name keys compare by the given name, under one surname: the shared prefix "김:" would
            -- make 김:jua and 김:jesu look alike
            case
                -- A mobile is often a family's: siblings' names differ by a syllable (김명원 / 김명린), which
                -- Jaro-Winkler reads as a typo. On a mobile two Hangul names are two people unless typed
                -- twice by hand (below), and other names one person only one edit apart in their given
                -- name under one surname (Minsu Kim / 김민수, Jonathon / Jonathan Smith).
                when name_pairs.key_kind = 'phone'
                    then
                        coalesce(name_pairs.is_hangul_a and name_pairs.is_hangul_b, false)
                        or split_part(name_pairs.name_a, ':', 1) != split_part(name_pairs.name_b, ':', 1)
                        or damerau_levenshtein(
                            split_part(name_pairs.name_a, ':', 2), split_part(name_pairs.name_b, ':', 2)
                        ) > 1
                when split_part(name_pairs.name_a, ':', 1) = split_part(name_pairs.name_b, ':', 1)
                    then jaro_winkler_similarity(
                        split_part(name_pairs.name_a, ':', 2), split_part(name_pairs.name_b, ':', 2)
                    ) < {{ var('identity_same_name_similarity') }}
                else
                    jaro_winkler_similarity(name_pairs.name_a, name_pairs.name_b)
                    < {{ var('identity_same_name_similarity') }}
            end
            -- 김하연 at a personal mailbox that also reads David Kim: one person with an English given name
            and not (
                name_pairs.key_kind = 'email'
                and name_pairs.is_hangul_a is distinct from name_pairs.is_hangul_b
                and split_part(name_pairs.name_a, ':', 1) = split_part(name_pairs.name_b, ':', 1)
            )
            -- on a mobile too, when the Latin name's given name cannot be a romanised Korean one: 김하연 and
            -- David Kim are one person, 김민수 and Minji Kim two siblings (and an initial, J. Kim, says nothing)
            {%- set latin_given_name =
                "split_part(case when name_pairs.is_hangul_a then name_pairs.name_b else name_pairs.name_a end, ':', 2)" %}
            and not coalesce(
                name_pairs.key_kind = 'phone'
                and name_pairs.is_hangul_a != name_pairs.is_hangul_b
                and split_part(name_pairs.name_a, ':', 1) = split_part(name_pairs.name_b, ':', 1)
                and length({{ latin_given_name }}) >= 3
                and not {{ reads_as_korean_given_name(latin_given_name) }},
                false
            )
            and not coalesce(({{ hand_typed_variants('name_pairs') }}), false)
        )

),

name_frequencies as (

    select
        identity_name,
        count(*) as name_frequency
    from named_contacts
    where identity_name is not null
    group by identity_name

),

record_count as (

    -- at least var identity_min_population: a small warehouse does not make every name common
    select greatest(count(*), {{ var('identity_min_population') }}) as record_count
    from contacts

),

-- The romanised name key is lossy (서연 and 서윤 both fold to 이:suyun): where one value carries two
-- different Hangul names with one fold, the name part of its key is the spelling itself (name_key).
ambiguous_folds as (

    select
        key_kind,
        key_value,
        identity_name
    from contested_key_values
    where is_hangul
    group by key_kind, key_value, identity_name
    having count(distinct name_key) > 1

),

classified as (

    select
        contested_key_values.record_key,
        case
            when ambiguous_folds.identity_name is not null
                then contested_key_values.name_key
            else contested_key_values.identity_name
        end as key_name,
        contested_key_values.identity_name,
        contested_key_values.key_kind,
        contested_key_values.key_value,
        (contested_key_values.is_team_value or shared_values.key_value is not null) as needs_name,
        -- The namesakes a team value holds by chance: its holders times the name's share of all records.
        contested_values.holder_count * name_frequencies.name_frequency::double / record_count.record_count
            as expected_namesakes
    from contested_key_values
    left join shared_values
        on
            contested_key_values.key_kind = shared_values.key_kind
            and contested_key_values.key_value = shared_values.key_value
    inner join contested_values
        on
            contested_key_values.key_kind = contested_values.key_kind
            and contested_key_values.key_value = contested_values.key_value
    left join name_frequencies
        on contested_key_values.identity_name = name_frequencies.identity_name
    left join ambiguous_folds
        on
            contested_key_values.key_kind = ambiguous_folds.key_kind
            and contested_key_values.key_value = ambiguous_folds.key_value
            and contested_key_values.identity_name = ambiguous_folds.identity_name
    cross join record_count

),

-- A personal mailbox and a mobile, both shared: the pair of values is a key of its own (email_phone), listed
-- only where both are contested (an uncontested value joins on its own), and never for a value four or more
-- names share.
team_values as (

    select
        key_kind,
        key_value
    from name_counts
    where name_count > 3

),

strong_pairs as (

    select
        named_contacts.record_key,
        named_contacts.email || '|' || named_contacts.phone as match_key
    from named_contacts
    anti join team_values as team_emails
        on team_emails.key_kind = 'email' and named_contacts.email = team_emails.key_value
    anti join team_values as team_phones
        on team_phones.key_kind = 'phone' and named_contacts.phone = team_phones.key_value
    where
        named_contacts.email is not null
        and not named_contacts.is_placeholder_email
        and not named_contacts.is_role_email
        and named_contacts.phone is not null
        and not named_contacts.is_placeholder_phone
        and named_contacts.phone_type in ('mobile', 'other')
        and (
            exists (
                select 1
                from contested_values
                where contested_values.key_kind = 'email' and contested_values.key_value = named_contacts.email
            )
            and exists (
                select 1
                from contested_values
                where contested_values.key_kind = 'phone' and contested_values.key_value = named_contacts.phone
            )
        )

),

final as (

    -- Values nobody contests: the value alone.
    select
        key_values.record_key,
        key_values.key_kind as key_type,
        key_values.key_value as match_key
    from key_values
    semi join shared_uncontested_values
        on
            key_values.key_kind = shared_uncontested_values.key_kind
            and key_values.key_value = shared_uncontested_values.key_value

    union all

    select
        record_key,
        case when needs_name then key_kind || '_name' else key_kind end as key_type,
        case when needs_name then key_value || '|' || key_name else key_value end as match_key
    from classified
    where
        not needs_name
        or (key_name is not null and expected_namesakes < {{ var('identity_max_expected_namesakes') }})
    -- only keys two or more records hold: a key one record holds joins nothing
    qualify count(*) over (partition by match_key) > 1

    union all

    select
        record_key,
        'email_phone' as key_type,
        match_key
    from strong_pairs
    qualify count(*) over (partition by match_key) > 1

)

select * from final
