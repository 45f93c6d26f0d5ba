-- Survivorship: each attribute (name, email, phone, company, birthday) comes from the most recent record that
-- has a value for it, ordered by coalesce(record_at, loaded_at) desc, then source priority (var
-- source_priority, lower wins), then source_record_id. On top of that, primary_email prefers personal over
-- role mailboxes (info@) and primary_phone prefers mobile numbers; placeholders never surface. consent_email
-- is the latest explicit answer, so a later refusal withdraws an earlier yes, and no answer at all means not
-- consented. An answer with no date of its own counts as of when it landed, an upper bound of when it was
-- given: so an undated yes cannot outrank any refusal (the refusal may be the later answer), while an undated
-- refusal counts. consent_email_at is when the deciding answer was given by that same clock: the latest
-- answer, or the latest refusal when that outranks an undated yes; null when the customer never answered.
--
-- Sales data comes from the customer's live Pipedrive persons (the most recently updated one when there are
-- several): company is its organization's current name where known, else the name of the HubSpot company of
-- the customer's most recently updated HubSpot contact with a company, else the survivor above; industry and
-- company_size come from that organization (custom fields, see dbt_project.yml), else from that HubSpot
-- company (industry, numberofemployees); owner is the person's owner, else the owner of the latest won deal.
-- Purchases are the customer's rows of int_customers__purchases, whichever source they come from. total_value
-- sums them only when they share one currency (currency names it); across several currencies it is null and
-- currency lists them, since adding KRW to EUR means nothing. acquisition_source is the source of the
-- customer's earliest record (coalesce(record_at, first_loaded_at), then source priority): where they came
-- from. customers exposes these columns with the segment attributes of int_customers__segments.
with

contacts as (

    select * from {{ ref('int_contacts__unioned') }}

),

customer_ids as (

    select * from {{ ref('int_identity__customer_ids') }}

),

persons as (

    select * from {{ ref('stg_pipedrive__persons') }}

),

organizations as (

    select * from {{ ref('stg_pipedrive__organizations') }}

),

hubspot_contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

hubspot_companies as (

    select * from {{ ref('stg_hubspot__companies') }}

),

customer_purchases as (

    select * from {{ ref('int_customers__purchases') }}

),

customer_records as (

    select
        customer_ids.customer_id,
        contacts.source,
        contacts.full_name,
        contacts.email,
        contacts.raw_email,
        contacts.phone,
        contacts.company,
        contacts.consent_email,
        contacts.birthday,
        contacts.record_at,
        coalesce(contacts.record_at, contacts.loaded_at) as answered_at,
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
        ) as recency_rank,
        row_number() over (
            partition by customer_ids.customer_id
            order by
                coalesce(contacts.record_at, contacts.first_loaded_at) asc,
                contacts.source_priority asc,
                contacts.source_record_id asc
        ) as arrival_rank
    from contacts
    inner join customer_ids
        on contacts.record_key = customer_ids.record_key

),

survivors as (

    select
        customer_id,
        min_by(full_name, recency_rank) filter (where full_name is not null) as full_name,
        coalesce(
            min_by(email, recency_rank) filter (where has_email and not is_role_email),
            min_by(email, recency_rank) filter (where has_email)
        ) as primary_email,
        -- the same record's cell, as the customer wrote it: the address mail goes to
        coalesce(
            min_by(raw_email, recency_rank) filter (where has_email and not is_role_email),
            min_by(raw_email, recency_rank) filter (where has_email)
        ) as primary_email_cell,
        coalesce(
            min_by(phone, recency_rank) filter (where has_phone and is_mobile_phone),
            min_by(phone, recency_rank) filter (where has_phone)
        ) as primary_phone,
        min_by(company, recency_rank) filter (where company is not null) as company,
        min_by(birthday, recency_rank) filter (where birthday is not null) as birthday,
        count(distinct source) as source_count,
        count(*) as record_count,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        string_agg(distinct source, ',' order by source) as sources,
        min_by(source, arrival_rank) as acquisition_source
    from customer_records
    group by customer_id

),

consent_answers as (

    select
        customer_id,
        min_by(consent_email, recency_rank) as latest_answer,
        min_by(record_at is not null, recency_rank) as is_latest_answer_dated,
        min_by(answered_at, recency_rank) as latest_answer_at,
        bool_or(not consent_email) as has_refused,
        min_by(answered_at, recency_rank) filter (where not consent_email) as latest_refusal_at
    from customer_records
    where consent_email is not null
    group by customer_id

),

consents as (

    select
        customer_id,
        latest_answer and (is_latest_answer_dated or not has_refused) as consent_email,
        case
            when latest_answer and not is_latest_answer_dated and has_refused then latest_refusal_at
            else latest_answer_at
        end as consent_email_at
    from consent_answers

),

customer_persons as (

    select
        customer_ids.customer_id,
        cast(persons.source_record_id as bigint) as person_id,
        persons.organization_id,
        persons.owner_id,
        row_number() over (
            partition by customer_ids.customer_id
            order by persons.updated_at desc, persons.source_record_id asc
        ) as person_rank
    from persons
    inner join customer_ids
        on {{ record_key('persons.source', 'persons.source_record_id') }} = customer_ids.record_key

),

sales_contacts as (

    select
        customer_persons.customer_id,
        customer_persons.owner_id,
        organizations.organization_name,
        organizations.industry,
        organizations.company_size
    from customer_persons
    left join organizations
        on customer_persons.organization_id = organizations.organization_id
    where customer_persons.person_rank = 1

),

hubspot_sales_contacts as (

    select
        customer_ids.customer_id,
        hubspot_companies.company_name,
        hubspot_companies.industry,
        cast(hubspot_companies.employee_count as varchar) as company_size,
        row_number() over (
            partition by customer_ids.customer_id
            order by hubspot_contacts.updated_at desc, hubspot_contacts.source_record_id asc
        ) as contact_rank
    from hubspot_contacts
    inner join customer_ids
        on {{ record_key('hubspot_contacts.source', 'hubspot_contacts.source_record_id') }} = customer_ids.record_key
    inner join hubspot_companies
        on hubspot_contacts.company_id = hubspot_companies.company_id

),

purchases as (

    select
        customer_id,
        count(distinct purchase_key) as purchase_count,
        -- A purchase without a currency counts as its own currency, '?': never added to another's total.
        case
            when count(distinct coalesce(currency, '?')) <= 1 then sum(purchase_value)
        end as total_value,
        string_agg(
            distinct coalesce(currency, '?'), ',' order by coalesce(currency, '?')
        ) as currency,
        min(purchased_at) as first_purchase_at,
        max(purchased_at) as last_purchase_at,
        max_by(owner_id, purchased_at) as last_deal_owner_id
    from customer_purchases
    group by customer_id

),

final as (

    select
        survivors.customer_id,
        survivors.full_name,
        survivors.primary_email,
        coalesce({{ email_as_written('survivors.primary_email_cell') }}, survivors.primary_email) as email_address,
        survivors.primary_phone,
        coalesce(
            sales_contacts.organization_name, hubspot_sales_contacts.company_name, survivors.company
        ) as company,
        coalesce(sales_contacts.industry, hubspot_sales_contacts.industry) as industry,
        coalesce(sales_contacts.company_size, hubspot_sales_contacts.company_size) as company_size,
        survivors.birthday,
        coalesce(consents.consent_email, false) as consent_email,
        consents.consent_email_at,
        survivors.source_count,
        survivors.record_count,
        survivors.first_seen_at,
        survivors.last_seen_at,
        survivors.sources,
        survivors.acquisition_source,
        coalesce(purchases.purchase_count, 0) as purchase_count,
        case when purchases.customer_id is null then 0 else purchases.total_value end as total_value,
        purchases.currency,
        purchases.first_purchase_at,
        purchases.last_purchase_at,
        coalesce(cast(sales_contacts.owner_id as varchar), purchases.last_deal_owner_id) as owner
    from survivors
    left join consents
        on survivors.customer_id = consents.customer_id
    left join sales_contacts
        on survivors.customer_id = sales_contacts.customer_id
    left join hubspot_sales_contacts
        on
            survivors.customer_id = hubspot_sales_contacts.customer_id
            and hubspot_sales_contacts.contact_rank = 1
    left join purchases
        on survivors.customer_id = purchases.customer_id

)

select * from final
