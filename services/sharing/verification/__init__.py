"""Identity verification: an `{id_number, name}` pair checked against public security's records."""
