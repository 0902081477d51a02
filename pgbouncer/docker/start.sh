#!/bin/sh
# Starts PgBouncer in its container (compose and docker-stack.yml, upstream image or stand-in): writes the auth file
# (app_rw, the only user PgBouncer admits) from DB_APP_PASSWORD or the secret file DB_APP_PASSWORD_FILE names into
# /tmp (a tmpfs under the production profile's read-only root), then runs PgBouncer in the foreground.
set -eu
if [ -n "${DB_APP_PASSWORD_FILE:-}" ]; then DB_APP_PASSWORD="$(cat "$DB_APP_PASSWORD_FILE")"; fi
if [ -z "${DB_APP_PASSWORD:-}" ]; then
  echo "pgbouncer: DB_APP_PASSWORD or DB_APP_PASSWORD_FILE is required" >&2
  exit 1
fi
umask 077
# The auth file's format: "user" "password", a double quote inside doubled.
printf '"app_rw" "%s"\n' "$(printf '%s' "$DB_APP_PASSWORD" | sed 's/"/""/g')" >/tmp/pgbouncer-userlist.txt
unset DB_APP_PASSWORD
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
