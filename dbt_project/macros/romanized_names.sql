{#-
    Hangul written in Latin letters by Revised Romanization, syllable by syllable (no sound-change rules:
    names are romanised per syllable in practice, "Minsu", not "Minsoo" or "Minssu" by rule). Characters
    that are not Hangul syllables pass through.
-#}
{% macro hangul_romanized(text) -%}
    array_to_string(
        list_transform(
            string_split({{ text }}, ''),
            lambda c: case
                when unicode(c) between 44032 and 55203
                    then
                        ['g', 'kk', 'n', 'd', 'tt', 'r', 'm', 'b', 'pp', 's', 'ss', '', 'j', 'jj', 'ch', 'k', 't', 'p', 'h'][(unicode(c) - 44032) // 588 + 1]
                        || ['a', 'ae', 'ya', 'yae', 'eo', 'e', 'yeo', 'ye', 'o', 'wa', 'wae', 'oe', 'yo', 'u', 'wo', 'we', 'wi', 'yu', 'eu', 'ui', 'i'][((unicode(c) - 44032) % 588) // 28 + 1]
                        || ['', 'k', 'k', 'k', 'n', 'n', 'n', 't', 'l', 'k', 'm', 'l', 'l', 'l', 'p', 'l', 'm', 'p', 'p', 't', 't', 'ng', 't', 't', 'k', 't', 'p', 't'][(unicode(c) - 44032) % 28 + 1]
                else c
            end
        ),
        ''
    )
{%- endmacro %}


{#-
    One spelling for the romanisations of a Korean name in use side by side, so that "Min-soo", "Minsu"
    (Revised Romanization of 민수) and "MINSU" fold alike, as do Jeong/Jung/Chung, Hyeon/Hyun, Young/Yeong,
    Hee/Hui, Ki/Gi, Seok/Suk, Woo/U. Voiced and unvoiced consonants fall together (g/k, d/t, b/p, j/ch,
    r/l, s/sh) and so do the vowels people write for one Hangul vowel (eo/u/o-u, oo/u, ee/i, eu/u, ui/i,
    ae/e); a final h after a vowel (Suh, Oh) goes. The fold loses distinctions (서 and 수 both fold to "su"),
    so a folded name is evidence to be corroborated, never a key on its own.
-#}
{% macro romanization_fold(text) -%}
    {#- Each step replaces every match of its pattern, left to right; the order of the steps matters. -#}
    {%- set folded = namespace(sql="regexp_replace(lower(" ~ text ~ "), '[^a-z]', '', 'g')") -%}
    {%- for pattern, replacement in [
        ('sh|ss', 's'), ('ch|jj', 'j'), ('ng', 'N'), ('kk|g', 'k'), ('N', 'ng'), ('tt|d', 't'), ('pp|b', 'p'),
        ('r', 'l'), ('woo|eo|oo|eu|ou', 'u'), ('ee|ui', 'i'), ('ae', 'e'), ('ll', 'l'), ('nn', 'n'), ('mm', 'm'),
        ('([aeiouy])h($|[^aeiouy])', '\\1\\2')
    ] -%}
        {%- set folded.sql = "regexp_replace(" ~ folded.sql ~ ", '" ~ pattern ~ "', '" ~ replacement ~ "', 'g')" -%}
    {%- endfor -%}
    {{ folded.sql }}
{%- endmacro %}


{#-
    A company name without its legal form, case, spacing and punctuation, so "(주)한빛소프트", "한빛소프트"
    and "㈜ 한빛 소프트" are one key, as are "Acme Co., Ltd." and "ACME". Names in two scripts stay apart.
-#}
{% macro company_key(company) -%}
    nullif(
        regexp_replace(
            regexp_replace(
                lower(nfc_normalize({{ company }})),
                '\(주\)|㈜|주식회사|\(유\)|유한회사|\(사\)|사단법인|\b(co|corp|corporation|inc|incorporated|ltd|limited|llc|gmbh|company|the)\b',
                '',
                'g'
            ),
            '[^\p{L}\p{N}]',
            '',
            'g'
        ),
        ''
    )
{%- endmacro %}


{#-
    True when two strings are one typo apart: one character wrong, missing, extra, or two neighbours
    swapped (Damerau-Levenshtein distance 1). The cheap tests (Hamming, Levenshtein) run first; the costly
    Damerau-Levenshtein only for two same-length strings that differ in exactly two places. False when
    either is null or they are equal.
-#}
{% macro one_edit_apart(a, b) -%}
    coalesce(
        {{ a }} != {{ b }}
        and case
            when length({{ a }}) = length({{ b }})
                then case
                    when hamming({{ a }}, {{ b }}) = 1 then true
                    when hamming({{ a }}, {{ b }}) = 2 then damerau_levenshtein({{ a }}, {{ b }}) = 1
                    else false
                end
            when abs(length({{ a }}) - length({{ b }})) = 1 then levenshtein({{ a }}, {{ b }}) = 1
            else false
        end,
        false
    )
{%- endmacro %}


{#-
    True when a folded given name (romanization_fold: 민지 and Minji fold to "minji") can be read as one to
    three romanised Korean syllables: an initial consonant, a vowel (with its y or w glide), a final
    consonant. English given names mostly cannot (David folds to "tavit": no v; Grace keeps its c; Brian,
    Steven: two consonants together), so a mobile shared by 김하연 and David Kim is one person who took an
    English given name, while 김민지 and Minji Kim's sibling 김민수 stay apart. Some English names read as
    Korean (Jason: ja-son, Anna) and are then compared as Korean ones.
-#}
{% macro reads_as_korean_given_name(folded) -%}
    regexp_full_match(
        {{ folded }},
        '((?:[kntlmpsjh])?(?:ya|ye|yo|yu|wa|we|wi|wo|oe|a|e|i|o|u)(?:ng|[kntlmp])?){1,3}'
    )
{%- endmacro %}
