{#-
    Staging for a landed contact source: the current version of each record with the time it first
    landed, renamed and trimmed, with the name and email keys the identity rules use. Accepted and
    rejected rows both pass (is_rejected).

    A file that lands again (a person re-dropped it after editing) is a new version of the whole file:
    only its latest batch counts, so a row deleted from the file leaves the warehouse and rows renumbered
    by the edit are not counted twice. Earlier batches stay in landing, and first_loaded_at still
    remembers when each record id was first seen.
-#}
{% macro stage_landed_contacts(source_relation) -%}
with

source as (

    select * from {{ source_relation }}

),

-- The versioning reads only the columns it orders and partitions by: the windows sort what they carry,
-- and a landed row is wide (raw_row, attributes, field_issues). The winning rows are then read whole.
-- (At 1M spreadsheet rows, carrying the whole row through three windows took most of the model's time.)
row_keys as (

    select
        _source,
        source_record_id,
        _source_file,
        _load_id,
        _loaded_at,
        _source_row
    from source

),

versioned as (

    select
        *,
        min(_loaded_at) over (partition by _source, source_record_id) as first_loaded_at,
        _load_id = first_value(_load_id) over (
            partition by _source, _source_file
            order by _loaded_at desc, _load_id desc
        ) as is_latest_file_version
    from row_keys

),

current_versions as (

    select
        _source,
        source_record_id,
        _load_id,
        _source_row,
        first_loaded_at
    from versioned
    where is_latest_file_version
    qualify row_number() over (
        partition by _source, source_record_id
        order by _loaded_at desc, _load_id desc, _source_row desc
    ) = 1

),

renamed as (

    select
        source._source as source,
        source.source_record_id,
        source._load_id as load_id,
        source._loaded_at as loaded_at,
        current_versions.first_loaded_at,
        source._source_file as source_file,
        source._source_sheet as source_sheet,
        source._source_row as source_row,
        {{ landed_contact_columns('source.') }}
    from source
    inner join current_versions
        on
            source._source = current_versions._source
            and source.source_record_id = current_versions.source_record_id
            and source._load_id = current_versions._load_id
            and source._source_row is not distinct from current_versions._source_row

),

final as (

    select
        *,
        {{ contact_key_columns() }}
    from renamed

)

select * from final
{%- endmacro %}



{#- The contact columns every landed contact source carries (CONTACT_RECORD_SCHEMA), trimmed and flagged. -#}
{% macro landed_contact_columns(prefix='') -%}
{%- set p = prefix -%}
{{ p }}record_at,
        nullif(trim({{ p }}full_name), '') as full_name,
        nullif(trim({{ p }}email), '') as email,
        nullif(trim({{ p }}phone), '') as phone,
        {{ p }}phone_type,
        nullif(trim({{ p }}company), '') as company,
        {{ p }}consent_email,
        nullif(trim({{ p }}birthday), '') as birthday,
        {{ p }}raw_name,
        {{ p }}raw_email,
        {{ p }}raw_phone,
        {{ p }}raw_company,
        {{ p }}raw_consent_email,
        {{ p }}raw_birthday,
        {{ p }}raw_row,
        {{ p }}attributes,
        {{ p }}field_issues,
        {{ p }}rejection_reason,
        {{ p }}rejection_reason is not null as is_rejected
{%- endmacro %}


{#- The keys the identity rules read, derived from the staged name and email. -#}
{% macro contact_key_columns() -%}
{{ name_key('full_name') }} as name_key,
        {{ email_local_part('email') }} as email_local_part,
        {{ email_domain('email') }} as email_domain
{%- endmacro %}
