#!/bin/sh
# Run once by the postgres image, on a new data volume (/docker-entrypoint-initdb.d): the role
# that owns Procure's databases and runs their migrations. It may create databases, and the
# services' own roles, which each migration step makes (DATABASE_URL's user, with its
# password) and grants what its service needs: docs/operations.md, "Database roles". The
# superuser itself is used by nothing of Procure's.
set -eu
psql --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set owner_password="$PROCURE_DATABASE_OWNER_PASSWORD" <<'SQL'
CREATE ROLE procure_owner LOGIN CREATEDB CREATEROLE PASSWORD :'owner_password';
SQL
