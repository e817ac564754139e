#!/bin/sh
# Run once by the postgres image on an empty data directory: one database and one login role per
# service, each database closed to every other role, so no service can read another's tables.
# Passwords come from <SERVICE>_DB_PASSWORD (compose passes them in).
set -eu

for service in registry subsidy sharing gateway; do
    password_var="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
    password="$(printenv "$password_var")" || { echo "$password_var is not set" >&2; exit 1; }
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v service="$service" -v password="$password" <<'SQL'
CREATE ROLE :"service" LOGIN PASSWORD :'password';
CREATE DATABASE :"service" OWNER :"service";
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
SQL
done
