with

role_mailboxes as (

    select * from {{ ref('role_mailboxes') }}

),

placeholder_contacts as (

    select * from {{ ref('placeholder_contacts') }}

),

unioned as (

    {{ union_contact_staging([
        'source',
        'source_record_id',
        'load_id',
        'loaded_at',
        'first_loaded_at',
        'source_file',
        'source_sheet',
        'source_row',
        'record_at',
        'full_name',
        'name_key',
        'email',
        'raw_email',
        'email_local_part',
        'email_domain',
        'phone',
        'phone_type',
        'company',
        'consent_email',
        'birthday',
        'field_issues',
    ], rejected=false) }}

),

placeholder_emails as (

    select value as email
    from placeholder_contacts
    where kind = 'email'

),

placeholder_email_domains as (

    select value as email_domain
    from placeholder_contacts
    where kind = 'email_domain'

),

placeholder_phones as (

    select value as phone
    from placeholder_contacts
    where kind = 'phone'

),

final as (

    select
        {{ record_key('unioned.source', 'unioned.source_record_id') }} as record_key,
        unioned.source,
        unioned.source_record_id,
        {{ source_priority('unioned.source') }} as source_priority,
        unioned.load_id,
        unioned.loaded_at,
        unioned.first_loaded_at,
        unioned.source_file,
        unioned.source_sheet,
        unioned.source_row,
        unioned.record_at,
        unioned.full_name,
        unioned.name_key,
        unioned.email,
        unioned.raw_email,
        unioned.email_local_part,
        unioned.email_domain,
        unioned.phone,
        unioned.phone_type,
        unioned.company,
        unioned.consent_email,
        unioned.birthday,
        unioned.field_issues,
        role_mailboxes.local_part is not null as is_role_email,
        (
            placeholder_emails.email is not null
            or placeholder_email_domains.email_domain is not null
        ) as is_placeholder_email,
        placeholder_phones.phone is not null as is_placeholder_phone
    from unioned
    left join role_mailboxes
        on unioned.email_local_part = role_mailboxes.local_part
    left join placeholder_emails
        on unioned.email = placeholder_emails.email
    left join placeholder_email_domains
        on unioned.email_domain = placeholder_email_domains.email_domain
    left join placeholder_phones
        on unioned.phone = placeholder_phones.phone

)

select * from final
