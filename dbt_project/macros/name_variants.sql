{#-
    Whether two names on one personal value are one person's name typed twice by hand, beyond what the
    Jaro-Winkler test of int_identity__match_keys catches (relation: the name pair, with name_a/name_b
    (identity names), letters_a/letters_b (letters as typed), name_key_a/name_key_b, is_hangul_a/b,
    lone_given_fold_a/b: a lone given name romanised and folded):
    - the same letters with the spaces shifted (Barbar aFord / Barbara Ford);
    - two Latin names of eight letters or more one edit apart, as typed or in word order: a stray, missing,
      wrong or swapped letter (kRobert Nguyen / Robert Nguyen);
    - a Hangul name of three syllables with two of them swapped so that it starts with another syllable
      (수박빈 / 박수빈); 김민수 / 김수민, one surname and two given names, may be two siblings and is not;
    - a given name alone that is the other's given name (지훈 or Jihoon / Kim Jihoon, 김지훈), compared
      romanised and folded, or one word of a western name (Jessica / Jessica Smith);
    - one surname and an initial for the given name (J. Kim / Jihoon Kim).
    Two different given names under one surname (김민수 / 김민지, a family's mobile) are none of these.
-#}
{% macro hand_typed_variants(relation) -%}
    {%- set r = relation ~ '.' -%}
    {{ r }}letters_a = {{ r }}letters_b
    or (
        not coalesce({{ r }}is_hangul_a, false)
        and not coalesce({{ r }}is_hangul_b, false)
        and least(length({{ r }}letters_a), length({{ r }}letters_b)) >= 8
        and (
            damerau_levenshtein({{ r }}letters_a, {{ r }}letters_b) <= 1
            or damerau_levenshtein({{ r }}name_key_a, {{ r }}name_key_b) <= 1
        )
    )
    or (
        coalesce({{ r }}is_hangul_a and {{ r }}is_hangul_b, false)
        and length({{ r }}letters_a) = 3
        and length({{ r }}letters_b) = 3
        and left({{ r }}letters_a, 1) != left({{ r }}letters_b, 1)
        and list_sort(string_split({{ r }}letters_a, '')) = list_sort(string_split({{ r }}letters_b, ''))
    )
    or (contains({{ r }}name_b, ':') and {{ r }}lone_given_fold_a = split_part({{ r }}name_b, ':', 2))
    or (contains({{ r }}name_a, ':') and {{ r }}lone_given_fold_b = split_part({{ r }}name_a, ':', 2))
    or (
        not contains({{ r }}name_a, ':')
        and starts_with({{ r }}name_b, 'en:')
        and list_contains(string_split(substr({{ r }}name_b, 4), ' '), {{ r }}name_a)
    )
    or (
        not contains({{ r }}name_b, ':')
        and starts_with({{ r }}name_a, 'en:')
        and list_contains(string_split(substr({{ r }}name_a, 4), ' '), {{ r }}name_b)
    )
    or (
        contains({{ r }}name_a, ':')
        and split_part({{ r }}name_a, ':', 1) = split_part({{ r }}name_b, ':', 1)
        and (
            (length(split_part({{ r }}name_a, ':', 2)) = 1
                and starts_with(split_part({{ r }}name_b, ':', 2), split_part({{ r }}name_a, ':', 2)))
            or (length(split_part({{ r }}name_b, ':', 2)) = 1
                and starts_with(split_part({{ r }}name_a, ':', 2), split_part({{ r }}name_b, ':', 2)))
        )
    )
{%- endmacro %}
