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

versioned as (

    select
        *,
        min(_loaded_at) over (partition by _source, source_record_id) as first_loaded_at,
        _load_id = first_value(_load_id) over (
            partition by _source, _source_file
            order by _loaded_at desc, _load_id desc
        ) as is_latest_file_version
    from source

),

current_versions as (

    select
        *,
        row_number() over (
            partition by _source, source_record_id
            order by _loaded_at desc, _load_id desc, _source_row desc
        ) as version_rank
    from versioned
    where is_latest_file_version

),

renamed as (

    select
        _source as source,
        source_record_id,
        _load_id as load_id,
        _loaded_at as loaded_at,
        first_loaded_at,
        _source_file as source_file,
        _source_sheet as source_sheet,
        _source_row as source_row,
        {{ landed_contact_columns() }}
    from current_versions
    where version_rank = 1

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
{% macro landed_contact_columns() -%}
record_at,
        nullif(trim(full_name), '') as full_name,
        nullif(trim(email), '') as email,
        nullif(trim(phone), '') as phone,
        phone_type,
        nullif(trim(company), '') as company,
        consent_email,
        nullif(trim(birthday), '') as birthday,
        raw_name,
        raw_email,
        raw_phone,
        raw_company,
        raw_consent_email,
        raw_birthday,
        raw_row,
        attributes,
        field_issues,
        rejection_reason,
        rejection_reason is not null as is_rejected
{%- endmacro %}


{#- The keys the identity rules read, derived from the staged name and email. -#}
{% macro contact_key_columns() -%}
{{ name_key('full_name') }} as name_key,
        {{ email_local_part('email') }} as email_local_part,
        {{ email_domain('email') }} as email_domain
{%- endmacro %}
