{#-
    The current version of every live record of an API source landed page by page (connectors/core/landing.py
    API_RECORD_SCHEMA): the latest by updated_at, a tie going to the later landing (_loaded_at, then _load_id),
    exactly as the sync engine (connectors/apis/sync_engine.py) picks the latest landed version; with the
    time the record first landed. A reconcile tombstone copies the last landed updated_at and lands later, so
    it wins over that version; a live copy with the same updated_at landed after it wins again. Overlapping syncs and re-runs land a record several times; it comes out
    once. A record whose current version is deleted (or reconciled away by a full refresh) is left out.
-#}
{% macro latest_api_records(source_relation) -%}
    select * exclude (version_rank)
    from (
        select
            *,
            min(_loaded_at) over (partition by _source, record_id) as first_loaded_at,
            row_number() over (
                partition by _source, record_id
                order by updated_at desc, _loaded_at desc, _load_id desc
            ) as version_rank
        from {{ source_relation }}
    ) as versions
    where version_rank = 1 and not is_deleted
{%- endmacro %}


{#-
    Staging for an API source whose records are contacts (API_CONTACT_RECORD_SCHEMA): the columns of
    stage_landed_contacts, from the current live version of each record (latest_api_records) instead of the
    latest version of a file. An API record has no file, sheet or row: source_file names its entity
    (persons) and source_record_id its id. extra_columns are further column
    expressions, e.g. fields extracted from the record JSON.
-#}
{% macro stage_landed_api_contacts(source_relation, extra_columns=[]) -%}
with

current_versions as (

    {{ latest_api_records(source_relation) }}

),

renamed as (

    select
        _source as source,
        source_record_id,
        _load_id as load_id,
        _loaded_at as loaded_at,
        first_loaded_at,
        _entity as source_file,
        cast(null as varchar) as source_sheet,
        cast(null as bigint) as source_row,
        {{ landed_contact_columns() }},
        updated_at,
        record,
        {%- for column in extra_columns %}
        {{ column }},
        {%- endfor %}
    from current_versions

),

final as (

    select
        *,
        {{ contact_key_columns() }}
    from renamed

)

select * from final
{%- endmacro %}


{#-
    Staging for an API entity that is not contacts: the current live version of each record
    (latest_api_records), its id cast to a whole number as key_column, the model's own columns (the body of
    the call block, each followed by a comma) and the landing columns every such model ends with. Use it as
        {% call stage_landed_api_records(source('shopify', 'orders'), 'order_id') %}
            json_extract_string(record, '$.name') as order_name,
        {% endcall %}
-#}
{% macro stage_landed_api_records(source_relation, key_column) -%}
with

current_versions as (

    {{ latest_api_records(source_relation) }}

),

final as (

    select
        cast(record_id as bigint) as {{ key_column }},
        {{ caller() }}
        updated_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        first_loaded_at
    from current_versions

)

select * from final
{%- endmacro %}
