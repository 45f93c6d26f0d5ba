{{ stage_landed_contacts(source('forms', 'submissions')) }}
