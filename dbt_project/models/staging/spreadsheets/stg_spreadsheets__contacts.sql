{{ stage_landed_contacts(source('spreadsheets', 'contacts')) }}
