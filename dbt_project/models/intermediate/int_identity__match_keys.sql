-- A key joins records only when it identifies one person. Role mailboxes (info@, sales@) and team values
-- identify a team, so they join only together with the name; a record without a name cannot use them.
-- Placeholders identify nobody and are dropped: placeholder plus name would be a join on the name alone.
--
-- Which values are team values depends on what kind of value it is. A landline (or any number that is
-- not a mobile) written next to two different names is an office switchboard. A mobile number or a
-- personal mailbox belongs to one person, whose name is often written once in Hangul and once in Latin
-- letters (김민수 in a form, Minsu Kim in the CRM): that is one person, spelled twice. Two different names
-- in the same script on it (김철수 and 이순자 behind the owner's mobile of a small shop) are two people,
-- and the value becomes a team value.
with

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

email_values as (

    select
        record_key,
        name_key,
        'email' as key_kind,
        email as key_value,
        is_role_email as is_team_value,
        not is_role_email as is_personal_value
    from contacts
    where email is not null and not is_placeholder_email

),

phone_values as (

    select
        record_key,
        name_key,
        'phone' as key_kind,
        phone as key_value,
        false as is_team_value,
        coalesce(phone_type = 'mobile', false) as is_personal_value
    from contacts
    where phone is not null and not is_placeholder_phone

),

key_values as (

    select * from email_values
    union all
    select * from phone_values

),

shared_values as (

    select
        key_kind,
        key_value
    from key_values
    group by key_kind, key_value
    having
        (not bool_and(is_personal_value) and count(distinct name_key) > 1)
        or count(distinct name_key) filter (where {{ is_east_asian_name('name_key') }}) > 1
        or count(distinct name_key) filter (where not {{ is_east_asian_name('name_key') }}) > 1

),

classified as (

    select
        key_values.record_key,
        key_values.name_key,
        key_values.key_kind,
        key_values.key_value,
        (key_values.is_team_value or shared_values.key_value is not null) as needs_name
    from key_values
    left join shared_values
        on
            key_values.key_kind = shared_values.key_kind
            and key_values.key_value = shared_values.key_value

),

final as (

    select
        record_key,
        case when needs_name then key_kind || '_name' else key_kind end as key_type,
        case when needs_name then key_value || '|' || name_key else key_value end as match_key
    from classified
    where not needs_name or name_key is not null

)

select * from final
