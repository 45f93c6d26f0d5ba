with

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

customer_ids as (

    select * from {{ ref('int_identity__customer_ids') }}

),

evidence as (

    select * from {{ ref('customer_match_evidence') }}

),

-- The strongest link of each record, in the order int_identity__clusters weighs edges: a reviewed
-- must_link > email > phone > email_phone > email_name > phone_name > fuzzy.
strongest_links as (

    select
        source,
        source_record_id,
        rule,
        evidence
    from evidence
    qualify row_number() over (
        partition by source, source_record_id
        order by
            case rule
                when 'must_link' then 0
                when 'email' then 1
                when 'phone' then 2
                when 'email_phone' then 3
                when 'email_name' then 4
                when 'phone_name' then 5
                when 'fuzzy' then 6
            end,
            evidence
    ) = 1

),

final as (

    select
        customer_ids.customer_id,
        contacts.source,
        contacts.source_record_id,
        contacts.email,
        contacts.phone,
        coalesce(strongest_links.rule, 'singleton') as match_rule,
        strongest_links.evidence as match_evidence,
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
    left join strongest_links
        on
            contacts.source = strongest_links.source
            and contacts.source_record_id = strongest_links.source_record_id

)

select * from final
