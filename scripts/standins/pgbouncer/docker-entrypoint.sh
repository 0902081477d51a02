#!/bin/sh
# Entrypoint of the pgbouncer stand-in (scripts/standins/build.sh): the part of edoburu/pgbouncer's entrypoint that
# our compose files rely on. It runs the command it is given (CMD: pgbouncer /etc/pgbouncer/pgbouncer.ini).
# Not implemented: writing pgbouncer.ini and userlist.txt from DATABASE_URL / DB_* variables when no pgbouncer.ini
# is mounted; this stand-in says so and stops instead.
set -eu
if [ "${1:-}" = pgbouncer ] && [ ! -f /etc/pgbouncer/pgbouncer.ini ] && [ "$#" -le 2 ]; then
  echo "entrypoint.sh: no /etc/pgbouncer/pgbouncer.ini mounted (the stand-in does not generate one)" >&2
  exit 1
fi
exec "$@"
