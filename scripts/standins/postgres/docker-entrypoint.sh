#!/usr/bin/env bash
# Entrypoint of the postgres stand-in (scripts/standins/build.sh): the documented behaviour of the official
# postgres image's entrypoint, for Debian's postgresql-17.
#
#   - a first argument starting with `-` is an option for postgres: `postgres` is put in front;
#   - `postgres` started as root: PGDATA and /var/run/postgresql are created and given to postgres, then this script
#     runs again as postgres (setpriv);
#   - PGDATA without PG_VERSION: initdb for POSTGRES_USER (default postgres) with the password from
#     POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (POSTGRES_USER, POSTGRES_DB and POSTGRES_INITDB_ARGS take *_FILE
#     too), `host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}` appended to pg_hba.conf, then a temporary
#     server on the unix socket only creates POSTGRES_DB (default: the user) and runs
#     /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz in name order; it is stopped before the real start.
#   - listen_addresses = '*' comes from the image's postgresql.conf.sample (copied by initdb), as upstream.
# Not implemented: POSTGRES_INITDB_WALDIR, running as a uid without a passwd entry (nss_wrapper), *.sql.xz/zst.
set -euo pipefail

ME="${0##*/}"
log() { printf '%s: %s\n' "$ME" "$*"; }
die() {
  printf '%s: error: %s\n' "$ME" "$*" >&2
  exit 1
}

# file_env VAR [DEFAULT]: VAR from itself, else from the file named by VAR_FILE; both set is an error.
file_env() {
  local var=$1 file_var="${1}_FILE" default="${2:-}" value
  if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
    die "both $var and $file_var are set (but are exclusive)"
  fi
  value=$default
  if [[ -n "${!var:-}" ]]; then
    value="${!var}"
  elif [[ -n "${!file_var:-}" ]]; then
    value="$(<"${!file_var}")"
  fi
  export "$var=$value"
  unset "$file_var"
}

# postgres --help, --version, -C name, --describe-config: no set-up, just run it.
wants_help() {
  local arg
  for arg; do
    case $arg in -'?' | --help | --describe-config | -V | --version | -C) return 0 ;; esac
  done
  return 1
}

psql_init() {
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

init_database() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [[ -z $POSTGRES_PASSWORD && $auth != trust ]]; then
    die "Database is uninitialized and superuser password is not specified.
  Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value for the superuser, or
  POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password (not recommended)."
  fi

  log "initialising $PGDATA for user $POSTGRES_USER"
  # The password reaches initdb through a pipe (no file on disk); POSTGRES_INITDB_ARGS is split like shell
  # words, as upstream does.
  # shellcheck disable=SC2016 # expanded by the eval below
  local initdb='initdb -D "$PGDATA" --username="$POSTGRES_USER"'
  # shellcheck disable=SC2016
  if [[ -n $POSTGRES_PASSWORD ]]; then
    initdb+=' --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD")'
  fi
  eval "$initdb $POSTGRES_INITDB_ARGS"
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

  # Temporary server: unix socket only, so nothing outside (nor a TCP health check) sees it before it is ready.
  # The real start's own options apply to it too (shared_preload_libraries, ...).
  local -a server_opts=("$@" -c listen_addresses='' -p "${PGPORT:-5432}")
  PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "${server_opts[@]}")" -w start

  export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
  if [[ $POSTGRES_DB != postgres ]]; then
    # psql quotes the name itself (:"db").
    printf 'CREATE DATABASE :"db";\n' | psql_init --dbname postgres --set db="$POSTGRES_DB"
  fi

  local f
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh)
        if [[ -x $f ]]; then
          log "running $f"
          "$f"
        else
          log "sourcing $f"
          # Sourced scripts run as upstream's do: without `set -u`.
          set +u
          # shellcheck disable=SC1090 # the user's script
          . "$f"
          set -u
        fi
        ;;
      *.sql)
        log "running $f"
        psql_init --dbname "$POSTGRES_DB" -f "$f"
        ;;
      *.sql.gz)
        log "running $f"
        gzip -dc "$f" | psql_init --dbname "$POSTGRES_DB"
        ;;
      *) log "ignoring $f" ;;
    esac
  done
  shopt -u nullglob
  unset PGPASSWORD

  PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
  log "PostgreSQL init process complete; ready for start up."
}

if [[ "${1:-}" == -* ]]; then
  set -- postgres "$@"
fi

if [[ "${1:-}" == postgres ]] && ! wants_help "$@"; then
  export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
  if [[ "$(id -u)" == 0 ]]; then
    # A fresh named volume or tmpfs belongs to root: hand it over, then drop privileges.
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    chmod 3775 /var/run/postgresql 2>/dev/null || true
    find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
    HOME="$(getent passwd postgres | cut -d: -f6)"
    export HOME
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
  fi

  # initdb insists on 0700 (or 0750); the image's folder is 1777 so any uid can create its cluster there.
  chmod 700 "$PGDATA" 2>/dev/null || true
  if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    init_database "${@:2}"
  fi
fi

exec "$@"
