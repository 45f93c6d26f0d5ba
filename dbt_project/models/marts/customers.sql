-- Survivorship: each attribute comes from the most recent record that has a value for it, ordered by
-- coalesce(record_at, loaded_at) desc, then source priority (var source_priority, lower wins), then
-- source_record_id. On top of that, primary_email prefers personal over role mailboxes (info@) and
-- primary_phone prefers mobile numbers; placeholders never surface. consent_email is the latest explicit
-- answer, so a later refusal withdraws an earlier yes, and no answer at all means not consented. An answer
-- with no date of its own counts as of when it landed, an upper bound of when it was given: so an undated
-- yes cannot outrank any refusal (the refusal may be the later answer), while an undated refusal counts.
with

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

customer_ids as (

    select * from {{ ref('int_identity__customer_ids') }}

),

customer_records as (

    select
        customer_ids.customer_id,
        contacts.source,
        contacts.full_name,
        contacts.email,
        contacts.phone,
        contacts.company,
        contacts.consent_email,
        contacts.record_at,
        contacts.email is not null and not contacts.is_placeholder_email as has_email,
        contacts.is_role_email,
        contacts.phone is not null and not contacts.is_placeholder_phone as has_phone,
        contacts.phone_type = 'mobile' as is_mobile_phone,
        coalesce(contacts.record_at, contacts.first_loaded_at) as seen_at,
        row_number() over (
            partition by customer_ids.customer_id
            order by
                coalesce(contacts.record_at, contacts.loaded_at) desc,
                contacts.source_priority asc,
                contacts.source_record_id asc
        ) as recency_rank
    from contacts
    inner join customer_ids
        on contacts.record_key = customer_ids.record_key

),

final as (

    select
        customer_id,
        min_by(full_name, recency_rank) filter (where full_name is not null) as full_name,
        coalesce(
            min_by(email, recency_rank) filter (where has_email and not is_role_email),
            min_by(email, recency_rank) filter (where has_email)
        ) as primary_email,
        coalesce(
            min_by(phone, recency_rank) filter (where has_phone and is_mobile_phone),
            min_by(phone, recency_rank) filter (where has_phone)
        ) as primary_phone,
        min_by(company, recency_rank) filter (where company is not null) as company,
        coalesce(
            min_by(consent_email, recency_rank) filter (where consent_email is not null)
            and (
                min_by(record_at is not null, recency_rank) filter (where consent_email is not null)
                or not coalesce(bool_or(not consent_email), false)
            ),
            false
        ) as consent_email,
        count(distinct source) as source_count,
        count(*) as record_count,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        string_agg(distinct source, ',' order by source) as sources
    from customer_records
    group by customer_id

)

select * from final
