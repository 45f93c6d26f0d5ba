{#-
    The fuzzy tier's evidence beyond the name and the workplace, added up with its weights (var
    identity_fuzzy_weights): int_identity__fuzzy_pairs adds it to the score and to the score's bound, so the
    two cannot drift apart. relation prefixes the columns ("compared.") where a join needs it.
-#}
{% macro fuzzy_typo_and_against_weights(relation='') -%}
    {%- set weights = var('identity_fuzzy_weights') -%}
    + case when {{ relation }}phone_typo then {{ weights['phone_typo'] }} else 0 end
    + case when {{ relation }}email_typo then {{ weights['email_typo'] }} else 0 end
    - case
        when {{ relation }}different_mobile_numbers and not {{ relation }}phone_typo
            then {{ weights['different_mobiles'] }}
        else 0
    end
    - case when {{ relation }}different_companies then {{ weights['different_companies'] }} else 0 end
    - case when {{ relation }}different_work_mailboxes then {{ weights['different_work_mailboxes'] }} else 0 end
{%- endmacro %}
