-- What counts as a conversion for a campaign: a purchase from any source (int_customers__purchases, which
-- says what one purchase is) or a form submission (a web form or Typeform record), at its time.
with

purchases as (

    select
        customer_id,
        purchased_at as converted_at,
        'purchase' as conversion
    from {{ ref('int_customers__purchases') }}

),

submissions as (

    select
        customer_id,
        record_at as converted_at,
        'form_submission' as conversion
    from {{ ref('customer_source_records') }}
    where source in ('forms', 'typeform') and record_at is not null

),

final as (

    select * from purchases
    union all
    select * from submissions

)

select * from final
