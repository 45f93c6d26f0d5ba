-- A person's name as it compares across scripts and spellings: the Hangul surname, then the given name
-- romanised and folded (macro romanization_fold). 김민수, 김 민수, Minsu Kim, Kim Min-soo, MIN SU KIM and
-- Gim Minsu all key "김:minsu". A Latin name is Korean when its first or last word is a surname spelling
-- in use (seed korean_surnames: Lee, Yi and Rhee are all 이); when both are ("Min Jin"), it gets a key for
-- each reading. Other Latin names key on their words in any order, nicknames as the given name they stand
-- for (seed english_nicknames: Bob Smith and Robert Smith are "en:robert smith"). Names in other
-- scripts, one-word names and longer ones get none: the fuzzy tier never considers them.
-- Computed once per distinct name, then joined back to the records; the romanisation and the fold, the
-- costly part, once per distinct given name (far fewer: many people are called Minsu).
with

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

surnames as (

    select * from {{ ref('korean_surnames') }}

),

nicknames as (

    select * from {{ ref('english_nicknames') }}

),

distinct_names as (

    select distinct full_name
    from contacts
    where full_name is not null

),

-- Materialized, so that the script tests below run once per distinct name: inlined, they are pushed down
-- below the distinct onto every record.
names as materialized (

    select
        full_name,
        lower(nfc_normalize(full_name)) as folded
    from distinct_names

),

hangul_names as (

    select
        full_name,
        regexp_replace(folded, '\s', '', 'g') as compact
    from names
    -- Two to five Hangul letters, spaces aside: one regex, without first removing the spaces of every name.
    where regexp_full_match(folded, '\s*(\p{Hangul}\s*){2,5}')

),

hangul_split as (

    select
        full_name,
        case
            when
                length(compact) >= 3
                and left(compact, 2) in ('남궁', '황보', '제갈', '선우', '독고', '사공', '서문')
                then left(compact, 2)
            else left(compact, 1)
        end as surname,
        compact
    from hangul_names

),

surname_ranks as (

    select
        surname,
        min(surname_rank) as surname_rank
    from surnames
    group by surname

),

-- A Hangul name is family name first. A name of three syllables whose last is one of the ten commonest
-- surnames and whose first is none of the twenty commonest was probably assembled the other way round
-- (a CRM's first name and last name joined in Western order: 민수김), so it also reads with the last
-- syllable as the surname; the reading with the commoner surname is the likelier one (민수김 is 김:minsu,
-- as 김민수 is). 김민정 and 이수정 start with a common surname and keep their one reading.
hangul_readings as (

    select
        hangul_split.full_name,
        hangul_split.surname,
        substr(hangul_split.compact, length(hangul_split.surname) + 1) as given_name,
        surname_ranks.surname_rank
    from hangul_split
    left join surname_ranks
        on hangul_split.surname = surname_ranks.surname

    union all

    select
        hangul_split.full_name,
        right(hangul_split.compact, 1) as surname,
        left(hangul_split.compact, 2) as given_name,
        last_surnames.surname_rank
    from hangul_split
    inner join surname_ranks as last_surnames
        on right(hangul_split.compact, 1) = last_surnames.surname
    left join surname_ranks as first_surnames
        on left(hangul_split.compact, 1) = first_surnames.surname
    where
        length(hangul_split.compact) = 3
        and last_surnames.surname_rank <= 10
        and coalesce(first_surnames.surname_rank, 99) > 20

),

hangul_given_folds as (

    select
        given_name,
        {{ romanization_fold(hangul_romanized('given_name')) }} as given_fold
    from (select distinct given_name from hangul_readings) as given_names

),

hangul_keys as (

    select
        hangul_readings.full_name,
        hangul_readings.surname || ':' || hangul_given_folds.given_fold as name_match_key,
        true as is_hangul,
        hangul_readings.surname_rank
    from hangul_readings
    inner join hangul_given_folds
        on hangul_readings.given_name = hangul_given_folds.given_name

),

-- Materialized, so that the words are split once per name: the readings and the western keys below read
-- them three times, and a filter on them pushed down would split them again.
latin_names as materialized (

    select
        full_name,
        list_filter(
            list_transform(
                string_split_regex(trim(regexp_replace(folded, '[.,]', ' ', 'g')), '\s+'),
                lambda t: replace(t, '-', '')
            ),
            lambda t: t != ''
        ) as tokens
    from names
    where regexp_full_match(folded, '[a-z .,''-]+')

),

latin_words as (

    select
        full_name,
        tokens,
        tokens[1] as first_word,
        tokens[-1] as last_word
    from latin_names
    where len(tokens) between 2 and 4

),

latin_readings as (

    -- Family name first: Kim Minsu, Kim Min Su.
    select
        latin_words.full_name,
        surnames.surname,
        surnames.surname_rank,
        array_to_string(latin_words.tokens[2:], '') as given_name
    from latin_words
    inner join surnames
        on latin_words.first_word = surnames.romanization

    union all

    -- Family name last: Minsu Kim, Min Su Kim.
    select
        latin_words.full_name,
        surnames.surname,
        surnames.surname_rank,
        array_to_string(latin_words.tokens[:-2], '') as given_name
    from latin_words
    inner join surnames
        on latin_words.last_word = surnames.romanization

),

latin_given_folds as (

    select
        given_name,
        {{ romanization_fold('given_name') }} as given_fold
    from (select distinct given_name from latin_readings) as given_names

),

latin_keys as (

    select
        latin_readings.full_name,
        latin_readings.surname || ':' || latin_given_folds.given_fold as name_match_key,
        false as is_hangul,
        latin_readings.surname_rank
    from latin_readings
    inner join latin_given_folds
        on latin_readings.given_name = latin_given_folds.given_name

),

western_tokens as (

    select
        full_name,
        unnest(tokens) as token
    from latin_words
    where full_name not in (select latin_readings.full_name from latin_readings)

),

western_keys as (

    select
        western_tokens.full_name,
        'en:' || string_agg(
            coalesce(nicknames.given_name, western_tokens.token),
            ' ' order by coalesce(nicknames.given_name, western_tokens.token)
        ) as name_match_key,
        false as is_hangul
    from western_tokens
    left join nicknames
        on western_tokens.token = nicknames.nickname
    group by western_tokens.full_name

),

name_keys as (

    -- The likelier reading of a name read two ways: the one with the commoner surname. Only a Hangul name
    -- of three syllables or a Latin name read as Korean can have two (a name is Hangul, Korean in Latin
    -- letters or western, never two of them), so only these are ranked.
    select
        full_name,
        name_match_key,
        is_hangul,
        row_number() over (partition by full_name order by surname_rank nulls last, name_match_key) = 1
            as is_likelier_reading
    from hangul_keys

    union all

    select
        full_name,
        name_match_key,
        is_hangul,
        row_number() over (partition by full_name order by surname_rank, name_match_key) = 1
            as is_likelier_reading
    from latin_keys

    union all

    select
        full_name,
        name_match_key,
        is_hangul,
        true as is_likelier_reading
    from western_keys

),

final as (

    select
        contacts.record_key,
        name_keys.name_match_key,
        name_keys.is_hangul,
        name_keys.is_likelier_reading
    from contacts
    inner join name_keys
        on contacts.full_name = name_keys.full_name
    where not ends_with(name_keys.name_match_key, ':')

)

select * from final
