with

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

customer_ids as (

    select * from {{ ref('int_identity__customer_ids') }}

),

match_keys as (

    select * from {{ ref('int_identity__match_keys') }}

),

-- Every record holding a key is in the same customer, so a key held by two records is shared within one.
shared_keys as (

    select match_key
    from match_keys
    group by match_key
    having count(*) > 1

),

strongest_shared_keys as (

    select
        match_keys.record_key,
        min(
            case match_keys.key_type
                when 'email' then 1
                when 'phone' then 2
                when 'email_name' then 3
                when 'phone_name' then 4
            end
        ) as key_strength
    from match_keys
    inner join shared_keys
        on match_keys.match_key = shared_keys.match_key
    group by match_keys.record_key

),

final as (

    select
        customer_ids.customer_id,
        contacts.source,
        contacts.source_record_id,
        contacts.email,
        contacts.phone,
        case strongest_shared_keys.key_strength
            when 1 then 'email'
            when 2 then 'phone'
            when 3 then 'email_name'
            when 4 then 'phone_name'
            else 'singleton'
        end as match_rule,
        contacts.full_name,
        contacts.company,
        contacts.consent_email,
        contacts.record_at,
        contacts.source_file,
        contacts.source_sheet,
        contacts.source_row,
        contacts.loaded_at,
        contacts.field_issues
    from contacts
    inner join customer_ids
        on contacts.record_key = customer_ids.record_key
    left join strongest_shared_keys
        on contacts.record_key = strongest_shared_keys.record_key

)

select * from final
