{% snapshot segment_memberships %}
{#-
    Membership history: one row per version of a customer's segment and the attributes that decide it.
    A new version starts whenever one of check_cols changes, and starts at the run's segmentation time
    (updated_at: as_of), not at the wall clock, so history is reproducible from DRIPLINE_AS_OF and a re-run
    with the same as_of adds nothing. A customer that disappears (merged into another id) gets a last
    version with a null segment at that as_of: dbt's own hard_deletes would stamp the wall clock instead.
-#}
{%- set tracked = ['segment', 'lifecycle_stage', 'account_tier', 'channel', 'rfm_score', 'is_vip', 'is_contactable'] %}
{{
    config(
        unique_key='customer_id',
        strategy='check',
        check_cols=tracked,
        updated_at='as_of',
    )
}}

{%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) %}
{#- History only moves forward. A run as of an earlier time than the last one recorded, or as of the same
    time with different results (new data under a pinned DRIPLINE_AS_OF), would close versions before they
    start and give two versions one dbt_scd_id: stop before anything is written. -#}
{%- if execute and existing %}
    {%- set changed = [] %}
    {%- for column in tracked %}
        {%- do changed.append('s.' ~ column ~ ' is distinct from m.' ~ column) %}
    {%- endfor %}
    {%- set guard %}
        select
            max(dbt_valid_from) as latest,
            max(dbt_valid_from) > {{ segment_as_of() }} as goes_back,
            max(dbt_valid_from) = {{ segment_as_of() }} and exists (
                select 1
                from {{ ref('int_customers__segments') }} as s
                full outer join (select * from {{ this }} where dbt_valid_to is null and segment is not null) as m
                    on s.customer_id = m.customer_id
                where {{ changed | join(' or ') }}
            ) as rewrites
        from {{ this }}
    {%- endset %}
    {%- set result = run_query(guard).rows[0] %}
    {%- if result[1] or result[2] %}
        {{ exceptions.raise_compiler_error(
            "segment_memberships already holds a run as of " ~ result[0] ~ "; this run is as of "
            ~ segment_as_of() ~ (" (earlier)" if result[1] else " with different results")
            ~ ". Segment as of a later time (DRIPLINE_AS_OF), or leave DRIPLINE_AS_OF unset."
        ) }}
    {%- endif %}
{%- endif %}

select
    customer_id,
    segment,
    lifecycle_stage,
    account_tier,
    channel,
    rfm_score,
    is_vip,
    is_contactable,
    as_of
from {{ ref('int_customers__segments') }}
{%- if existing %}

union all

select
    memberships.customer_id,
    cast(null as varchar) as segment,
    cast(null as varchar) as lifecycle_stage,
    cast(null as varchar) as account_tier,
    cast(null as varchar) as channel,
    cast(null as varchar) as rfm_score,
    cast(null as boolean) as is_vip,
    cast(null as boolean) as is_contactable,
    {{ segment_as_of() }} as as_of
from {{ this }} as memberships
where
    memberships.dbt_valid_to is null
    and memberships.segment is not null
    and memberships.customer_id not in (select customer_id from {{ ref('int_customers__segments') }})
{%- endif %}

{% endsnapshot %}
