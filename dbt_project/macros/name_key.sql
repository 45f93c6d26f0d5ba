{#-
    Identity key for a person's name, so spelling noise never splits or joins people: case,
    spacing and punctuation are ignored, and names in Latin (or any non-East-Asian) script match
    in any token order, so "Minsu Kim", "KIM, Minsu" and "kim minsu" are one key. Hangul, Han and
    Kana names keep their order (family name first carries meaning, spacing is arbitrary), so
    "김 민수" = "김민수". NFC first: files saved on macOS can carry decomposed Hangul.
-#}
{% macro name_key(full_name) -%}
    {%- set folded = "lower(nfc_normalize(" ~ full_name ~ "))" -%}
    nullif(
        case
            when {{ is_east_asian_name(folded) }}
                then regexp_replace({{ folded }}, '[^\p{L}\p{M}\p{N}]', '', 'g')
            else array_to_string(
                list_sort(
                    string_split_regex(
                        trim(regexp_replace(regexp_replace({{ folded }}, '[^\p{L}\p{M}\p{N}\s,]', '', 'g'), '[\s,]+', ' ', 'g')),
                        ' '
                    )
                ),
                ''
            )
        end,
        ''
    )
{%- endmacro %}


{#- True when a name is written in an East Asian script (Hangul, Han, Kana), whose word order carries meaning. -#}
{% macro is_east_asian_name(name) -%}
    regexp_matches({{ name }}, '[\p{Hangul}\p{Han}\p{Hiragana}\p{Katakana}]')
{%- endmacro %}
