{{ stage_landed_api_contacts(source('typeform', 'responses'), extra_columns=[
    "_entity as form_id",
    "json_extract(record, '$.hidden') as hidden_fields",
]) }}
