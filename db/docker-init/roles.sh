#!/bin/sh
# The Postgres container's first start (an empty data volume): the roles of db/roles.sql (the owner `app_owner`, which
# migrations run as, and `app_rw`, which api and worker connect as) and the database's owner, with the passwords from
# DB_OWNER_PASSWORD / DB_APP_PASSWORD or their *_FILE secrets. Mounted into
# /docker-entrypoint-initdb.d (compose, the prod overlay, docker-stack.yml), where the image's entrypoint runs it
# against its temporary server (Unix socket only) as POSTGRES_USER, the superuser. A later change of a password or a
# role setting: run db/roles.sql again with psql as the superuser (db/roles.sql says how).
set -eu

# secret NAME: the value of NAME, or of the file NAME_FILE names.
secret() {
  eval "value=\${$1:-}; file=\${$1_FILE:-}"
  # shellcheck disable=SC2154 # set by the eval above
  if [ -n "$file" ]; then value="$(cat "$file")"; fi
  if [ -z "$value" ]; then
    echo "roles.sh: $1 or $1_FILE is required" >&2
    exit 1
  fi
  printf '%s' "$value"
}

owner_password="$(secret DB_OWNER_PASSWORD)"
app_password="$(secret DB_APP_PASSWORD)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname postgres \
  -v owner=app_owner -v owner_password="$owner_password" -v app_password="$app_password" -v dbname="${POSTGRES_DB:-$POSTGRES_USER}" \
  -f /etc/node-stack/roles.sql
