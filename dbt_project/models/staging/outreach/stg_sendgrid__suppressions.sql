-- Every suppression in force, one row per (email_key, kind, group_id): the operators' (landed by
-- `dripline suppress`, append-only) and SendGrid's lists read through its API (the current live version of
-- each entry; one SendGrid no longer lists was reconciled away). SendGrid's blocks are temporary and
-- suppress nothing, so they are not here. The record_id of an API entry is its normalised address
-- (`<group_id>:<address>` for a group unsubscribe), the same key as the operators' email_key. Where both
-- name the same suppression, the earlier one's time and origin are kept.
{%- set api_lists = {
    'bounces': 'bounce',
    'spam_reports': 'spam_report',
    'invalid_emails': 'invalid_email',
    'global_unsubscribes': 'global_unsubscribe',
} %}
with

operator_suppressions as (

    select
        email_key,
        kind,
        group_id,
        created_at,
        coalesce(origin, 'operator') as origin
    from {{ source('sendgrid', 'suppressions') }}
    where email_key is not null

),

api_suppressions as (

    {% for entity, kind in api_lists.items() %}
        select
            record_id as email_key,
            '{{ kind }}' as kind,
            cast(null as bigint) as group_id,
            updated_at as created_at,
            'sendgrid_api' as origin
        from ({{ latest_api_records(source('sendgrid', entity)) }}) as {{ entity }}
        union all
    {% endfor %}
    select
        substr(record_id, strpos(record_id, ':') + 1) as email_key,
        'group_unsubscribe' as kind,
        cast(split_part(record_id, ':', 1) as bigint) as group_id,
        updated_at as created_at,
        'sendgrid_api' as origin
    from ({{ latest_api_records(source('sendgrid', 'group_unsubscribes')) }}) as group_unsubscribes

),

ranked as (

    select
        *,
        row_number() over (
            partition by email_key, kind, group_id
            order by created_at, origin
        ) as origin_rank
    from (
        select * from operator_suppressions
        union all
        select * from api_suppressions
    ) as unioned

),

final as (

    select
        email_key,
        kind,
        group_id,
        created_at,
        origin
    from ranked
    where origin_rank = 1

)

select * from final
