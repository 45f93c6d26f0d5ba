"""Assets that read the files dropped in the inbox into the landing zone."""
