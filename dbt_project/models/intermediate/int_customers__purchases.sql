-- One row per purchase and customer, whichever source it comes from: the won, non-deleted deals of any of
-- the customer's Pipedrive persons, the won (hs_is_closed_won), non-archived HubSpot deals associated
-- with any of the customer's HubSpot contacts, the paid (paid or partially refunded), uncancelled, non-test
-- Shopify orders of any of the customer's Shopify customers (at their processed_at), and the purchases of order sheets linked to a customer
-- (int_orders__purchases, which says what one order-sheet purchase is, how refunds and re-exported files
-- count and how its buyer is linked). A HubSpot deal naming two contacts of the same customer is still one
-- purchase; its purchase time is its closedate.
with

customer_ids as (

    select * from {{ ref('int_identity__customer_ids') }}

),

persons as (

    select * from {{ ref('stg_pipedrive__persons') }}

),

deals as (

    select * from {{ ref('stg_pipedrive__deals') }}

),

hubspot_deals as (

    select * from {{ ref('stg_hubspot__deals') }}

),

shopify_orders as (

    select * from {{ ref('stg_shopify__orders') }}

),

order_purchases as (

    select * from {{ ref('int_orders__purchases') }}

),

customer_persons as (

    select
        customer_ids.customer_id,
        cast(persons.source_record_id as bigint) as person_id
    from persons
    inner join customer_ids
        on {{ record_key('persons.source', 'persons.source_record_id') }} = customer_ids.record_key

),

hubspot_deal_contacts as (

    select
        deal_id,
        deal_value,
        currency,
        closed_at,
        owner_id,
        unnest(contact_ids) as contact_id
    from hubspot_deals
    where is_closed_won

),

purchase_customers as (

    select
        customer_persons.customer_id,
        'pipedrive' as source,
        'pipedrive:' || deals.deal_id as purchase_key,
        deals.deal_value as purchase_value,
        deals.currency,
        deals.won_at as purchased_at,
        cast(deals.owner_id as varchar) as owner_id
    from deals
    inner join customer_persons
        on deals.person_id = customer_persons.person_id
    where deals.status = 'won'

    union all

    select
        customer_ids.customer_id,
        'hubspot' as source,
        'hubspot:' || hubspot_deal_contacts.deal_id as purchase_key,
        hubspot_deal_contacts.deal_value as purchase_value,
        hubspot_deal_contacts.currency,
        hubspot_deal_contacts.closed_at as purchased_at,
        cast(hubspot_deal_contacts.owner_id as varchar) as owner_id
    from hubspot_deal_contacts
    inner join customer_ids
        on 'hubspot:' || hubspot_deal_contacts.contact_id = customer_ids.record_key

    union all

    select
        customer_ids.customer_id,
        'shopify' as source,
        'shopify:' || shopify_orders.order_id as purchase_key,
        shopify_orders.order_value as purchase_value,
        shopify_orders.currency,
        shopify_orders.processed_at as purchased_at,
        cast(null as varchar) as owner_id
    from shopify_orders
    inner join customer_ids
        on 'shopify:' || shopify_orders.customer_id = customer_ids.record_key
    where
        shopify_orders.financial_status in ('paid', 'partially_refunded')
        and not shopify_orders.is_cancelled
        and not shopify_orders.is_test

    union all

    select
        customer_id,
        source,
        purchase_key,
        cast(purchase_value as double) as purchase_value,
        currency,
        purchased_at,
        cast(null as varchar) as owner_id
    from order_purchases
    where purchase_status = 'purchase' and customer_id is not null

),

final as (

    select distinct * from purchase_customers

)

select * from final
