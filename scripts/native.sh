#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Native mode: the docker-compose topology as local processes from Debian's packages (no container engine).
#
#   scripts/native.sh up                 Postgres, redis-cache, redis-queue, API x $API, worker x $WORKERS, nginx
#   scripts/native.sh down [--purge]     stop exactly what `up` started; --purge (or NATIVE_PURGE=1) deletes NATIVE_DIR
#   scripts/native.sh status             each process, its PID and whether it is alive (exit 1 if any is down)
#   scripts/native.sh stop NAME [SIG]    stop one process (default: TERM, wait, then KILL; postgres: pg_ctl -m fast)
#   scripts/native.sh start NAME         start it again on the same port and wait until it is ready
#   scripts/native.sh env                print the path of stack.env (ports, URLs, secrets; shell-sourceable)
#   NAME is one of: postgres redis-cache redis-queue api-<i> worker-<i> nginx
#
# Environment for `up` (defaults in brackets):
#   API [2], WORKERS [1]       replica counts
#   NATIVE_DIR [.native]       state folder; a relative path is taken from the repository root. Two stacks in two
#                              folders run side by side (tests use NATIVE_DIR=.native-test).
#   NATIVE_SEED [1]            1: seed once per cluster after migrating (SEED_PRODUCTS [10000]); force: seed again
#                              with SEED_RESET=true; 0: no seed
#   NATIVE_FAST [0]            1: Postgres with fsync, synchronous_commit and full_page_writes off (throwaway runs)
#   NATIVE_BUILD [1]           0: skip `npm run build`
#   NATIVE_TIMEOUT [90]        seconds to wait for each readiness stage
#   NATIVE_STOP_TIMEOUT [20]   seconds a process gets to exit after SIGTERM before SIGKILL
#   NATIVE_KEEP_ON_FAIL [0]    1: leave the processes running when `up` fails (for debugging)
#   PG_POOL_MAX                per-process pool size [from the connection budget below]
#   Settings native.sh does not generate (LOG_LEVEL, SHUTDOWN_TIMEOUT_MS, WORKER_CONCURRENCY...) are inherited from the
#   environment of whoever runs `up` or `start`.
#
# $NATIVE_DIR/stack.env (KEY=VALUE, no quotes; `set -a; . stack.env; set +a`): NATIVE_DIR NATIVE_REPO NATIVE_FAST HOST
#   PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGDATA PG_SOCKET_DIR PG_MAX_CONNECTIONS PG_POOL_MAX DATABASE_URL
#   DATABASE_ADMIN_URL (superuser) REDIS_CACHE_PORT REDIS_CACHE_URL REDIS_QUEUE_PORT REDIS_QUEUE_URL NGINX_PORT NGINX_URL
#   API_COUNT API_<i>_PORT API_<i>_URL API_<i>_METRICS_PORT API_<i>_METRICS_URL WORKER_COUNT WORKER_<i>_METRICS_PORT
#   WORKER_<i>_METRICS_URL WORKER_<i>_HEALTH_URL API_TOKEN_PEPPER DEV_ADMIN_TOKEN DEV_CUSTOMER_TOKEN (seeded bearer
#   tokens of user 1, the admin, and user 2, a customer) LOADTEST_KEY (X-Loadtest-Key that skips nginx's rate limits).
# Layout: run/<name>.pid (+ .start, .match: how `down` proves a PID is still ours), logs/<name>.log (nginx:
#   logs/nginx.stderr.log and logs/nginx.stdout.log, the JSON access log), launch/<name>.sh (how each was started),
#   pg/ (cluster), redis-queue/ (AOF), nginx/conf/ (links to the repository's nginx/ plus the generated files).
#
# `up` is idempotent: when that NATIVE_DIR already runs a stack with the same counts, it starts whatever of it is
# down (no build, migration or seed), checks readiness and prints the URL; with other counts it refuses until `down`.
# Data (Postgres cluster, queue AOF) survives `down`; `up` reuses it and the previous ports when they are free.
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LOG_PREFIX="[native]"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"
# shellcheck source=lib/proc.sh
source "$SCRIPT_DIR/lib/proc.sh"

# Connection budget (README "Connection budget"):
#   max_connections 200 = 3 superuser-reserved + 50 for the benchmark's naive reference pool
#                         + 27 for migrations, seed, tests and psql + 120 for the stack's processes,
#   so PG_POOL_MAX = 120 / (API + WORKERS), capped at 10 as in docker-compose.yml (two cores gain nothing from
#   more concurrent queries, and the benchmark compares like with like).
PG_MAX_CONNECTIONS=200
PG_APP_CONNECTIONS=120

# ---------------------------------------------------------------------------------------------------------------------
# Paths and settings

resolve_dir() {
  local dir="${NATIVE_DIR:-.native}"
  [[ "$dir" == /* ]] || dir="$REPO_ROOT/$dir"
  dir="${dir%/}"
  [[ -n "$dir" && "$dir" != "/" && "$dir" != "$REPO_ROOT" ]] || die "refusing NATIVE_DIR=$dir"
  printf '%s' "$dir"
}

NATIVE_DIR="$(resolve_dir)"
RUN_DIR="$NATIVE_DIR/run"
LOG_DIR="$NATIVE_DIR/logs"
LAUNCH_DIR="$NATIVE_DIR/launch"
STACK_ENV="$NATIVE_DIR/stack.env"
PGDATA="$NATIVE_DIR/pg"
MARKER="$NATIVE_DIR/.native-stack"
NATIVE_TIMEOUT="${NATIVE_TIMEOUT:-90}"

pg_bin_dir() {
  if [[ -n "${PG_BIN:-}" ]]; then
    printf '%s' "$PG_BIN"
    return
  fi
  local dir
  dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  [[ -x "$dir/initdb" ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql; run scripts/setup.sh"
  printf '%s' "$dir"
}

require_tools() {
  local tool
  for tool in redis-server redis-cli nginx curl psql pg_isready setsid ps; do
    command -v "$tool" >/dev/null || die "$tool not found; run scripts/setup.sh"
  done
  PG_BIN="$(pg_bin_dir)"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "system user postgres missing (it comes with the postgresql package)"
  fi
}

# as_pg CMD... -> runs CMD as the postgres system user when we are root (initdb and postgres refuse root).
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# Descriptor 9 holds an flock on NATIVE_DIR so two native.sh commands never work on one stack at the same time.
lock_stack() {
  mkdir -p "$NATIVE_DIR"
  exec 9>"$NATIVE_DIR/.lock"
  flock -w 300 9 || die "another native.sh command holds $NATIVE_DIR/.lock"
}

repo_path() { if [[ "$1" == /* ]]; then echo "$1"; else echo "$REPO_ROOT/$1"; fi; }

rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# env_get FILE KEY -> the value of KEY in a KEY=VALUE file, or nothing.
env_get() {
  [[ -f "$1" ]] || return 0
  sed -n "s/^$2=//p" "$1" | tail -n 1
}

load_stack_env() {
  [[ -f "$STACK_ENV" ]] || die "no stack in $NATIVE_DIR (no stack.env); run scripts/native.sh up"
  # shellcheck disable=SC1090
  source "$STACK_ENV"
}

# Process names of the loaded stack.env, in start order.
stack_names() {
  local i
  printf '%s\n' postgres redis-cache redis-queue
  for ((i = 1; i <= API_COUNT; i++)); do printf 'api-%s\n' "$i"; done
  for ((i = 1; i <= WORKER_COUNT; i++)); do printf 'worker-%s\n' "$i"; done
  printf '%s\n' nginx
}

# Names that have a PID file, whether or not stack.env exists (a failed `up` may have died before writing it).
recorded_names() {
  local file
  shopt -s nullglob
  for file in "$RUN_DIR"/*.pid; do
    file="${file##*/}"
    printf '%s\n' "${file%.pid}"
  done
  shopt -u nullglob
}

# ---------------------------------------------------------------------------------------------------------------------
# Readiness

port_of() {
  case "$1" in
    postgres) echo "$PGPORT" ;;
    redis-cache) echo "$REDIS_CACHE_PORT" ;;
    redis-queue) echo "$REDIS_QUEUE_PORT" ;;
    nginx) echo "$NGINX_PORT" ;;
    api-*) local v="API_${1#api-}_PORT" && echo "${!v}" ;;
    worker-*) local v="WORKER_${1#worker-}_METRICS_PORT" && echo "${!v}" ;;
  esac
}

is_ready() {
  local name="$1" port
  port="$(port_of "$name")"
  case "$name" in
    postgres) pg_isready -q -h 127.0.0.1 -p "$port" -t 2 ;;
    redis-*) [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]] ;;
    api-*) curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz" 2>/dev/null ;;
    worker-* | nginx) curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null ;;
  esac
}

# wait_ready NAME... -> waits until every NAME answers its readiness check; fails fast when one exits.
wait_ready() {
  local -a pending=("$@") still
  local deadline=$((SECONDS + NATIVE_TIMEOUT)) name
  while ((${#pending[@]} > 0)); do
    still=()
    for name in "${pending[@]}"; do
      if is_ready "$name"; then
        log "$name ready on 127.0.0.1:$(port_of "$name")"
      elif ! proc_pid "$name" >/dev/null; then
        log_tail "$name"
        die "$name exited while starting (log: $(log_file "$name"))"
      else
        still+=("$name")
      fi
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      for name in "${pending[@]}"; do log_tail "$name"; done
      die "not ready after ${NATIVE_TIMEOUT}s: ${pending[*]}"
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------------------------------------
# Postgres

pg_socket_dir() {
  local dir="$NATIVE_DIR/pg-socket"
  # A Unix socket path must fit in 107 bytes; a deep NATIVE_DIR falls back to a folder in /tmp named after it.
  if ((${#dir} + 20 > 107)); then
    dir="/tmp/native-pg-$(printf '%s' "$NATIVE_DIR" | md5sum | cut -c1-12)"
  fi
  printf '%s' "$dir"
}

pg_init() {
  if [[ -s "$PGDATA/PG_VERSION" ]]; then
    log "Postgres cluster exists in $PGDATA (kept)"
    return 0
  fi
  log "initdb $PGDATA"
  mkdir -p "$PGDATA"
  if is_root; then chown postgres:postgres "$PGDATA"; fi
  chmod 700 "$PGDATA"
  as_pg test -w "$PGDATA" ||
    die "the postgres user cannot write $PGDATA: every folder above NATIVE_DIR must be searchable (chmod o+x) by it"
  as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1 ||
    {
      log_tail initdb
      die "initdb failed"
    }
  # Throwaway cluster: local sockets and the superuser over loopback are trusted; the app role uses its password.
  cat >"$PGDATA/pg_hba.conf" <<'EOF'
# Written by scripts/native.sh (throwaway cluster, listens on 127.0.0.1 only).
local all all                  trust
host  all postgres 127.0.0.1/32 trust
host  all all      127.0.0.1/32 scram-sha-256
EOF
  printf "\n# Settings for native mode, rewritten by scripts/native.sh on every up.\ninclude 'native.conf'\n" \
    >>"$PGDATA/postgresql.conf"
}

pg_write_conf() {
  local socket_dir fast=""
  socket_dir="$(pg_socket_dir)"
  mkdir -p "$socket_dir"
  if is_root; then chown postgres:postgres "$socket_dir"; fi
  if [[ "${NATIVE_FAST:-0}" == 1 ]]; then
    fast="# NATIVE_FAST=1: a crash may lose or corrupt data; for test runs only.
fsync = off
synchronous_commit = off
full_page_writes = off"
  fi
  cat >"$PGDATA/native.conf" <<EOF
# Written by scripts/native.sh up; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$socket_dir'

# Connection budget: (API + workers) x PG_POOL_MAX <= $PG_APP_CONNECTIONS, plus the benchmark's naive pool (50),
# migrations, seed, tests and psql; see scripts/native.sh.
max_connections = $PG_MAX_CONNECTIONS
superuser_reserved_connections = 3

# Memory for a 2-core, 24 GiB machine shared with Redis, nginx, the Node processes and the load generator.
shared_buffers = 512MB
effective_cache_size = 8GB
work_mem = 8MB                  # per sort/hash node; 200 connections x a few nodes stays far below RAM
maintenance_work_mem = 256MB    # index builds after seed and bulk import
wal_buffers = 16MB
max_wal_size = 2GB              # fewer checkpoints during seed and import
min_wal_size = 256MB
checkpoint_completion_target = 0.9

# Two cores: at most one parallel helper per query, so a big scan cannot take both cores from the API.
max_worker_processes = 4
max_parallel_workers = 2
max_parallel_workers_per_gather = 1
max_parallel_maintenance_workers = 1
jit = off                       # short OLTP queries: compiling costs more than it saves

# SSD-backed storage.
random_page_cost = 1.1
effective_io_concurrency = 200

log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
log_lock_waits = on
timezone = 'UTC'
$fast
EOF
  if is_root; then chown postgres:postgres "$PGDATA/native.conf"; fi
}

# Postgres children call setsid() themselves, so the postmaster's process group does not hold them; what does mark
# every process of this cluster is its working directory, the data folder.
pg_cluster_pids() {
  local link pid
  while read -r link; do
    pid="${link#/proc/}"
    pid="${pid%/cwd}"
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] && pid_running "$pid" && echo "$pid"
  done < <(find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$PGDATA" 2>/dev/null)
  return 0
}

wait_pg_cluster_gone() {
  local deadline=$((SECONDS + $1))
  while [[ -n "$(pg_cluster_pids)" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# SIGKILL to the postmaster and every process of the cluster at once, as a container kill would.
kill_pg_cluster() {
  local pids
  pids="$(pg_cluster_pids)"
  if [[ -n "$pids" ]]; then
    log "postgres: SIGKILL to the cluster's processes: ${pids//$'\n'/ }"
    # shellcheck disable=SC2086 # one PID per word
    kill -KILL $pids 2>/dev/null || true
  fi
  wait_pg_cluster_gone 10 || warn "Postgres processes still present after SIGKILL: $(pg_cluster_pids | tr '\n' ' ')"
}

start_postgres() {
  local pid log="$LOG_DIR/postgres.log"
  # After a crash or a kill, backends may outlive the postmaster for a moment; a new postmaster must not meet them.
  if ! proc_pid postgres >/dev/null && ! wait_pg_cluster_gone 10; then
    die "Postgres processes of $PGDATA are still running ($(pg_cluster_pids | tr '\n' ' ')); run scripts/native.sh down"
  fi
  # No process of the cluster is left, so lock files are stale. Postgres itself would refuse one whose PID is a
  # killed postmaster that init has not reaped yet (a zombie), or a PID reused since.
  if [[ -z "$(pg_cluster_pids)" ]]; then
    rm -f "$PGDATA/postmaster.pid" "$(pg_socket_dir)/.s.PGSQL.$PGPORT.lock"
  fi
  touch "$log"
  if is_root; then chown postgres:postgres "$log"; fi
  printf '=== postgres started by native.sh at %s\n' "$(date -u +%FT%TZ)" >>"$log"
  # pg_ctl forks the postmaster into a session of its own (setsid) and waits until it accepts connections.
  as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$log" -w -t "$NATIVE_TIMEOUT" -s </dev/null >/dev/null 2>&1 9>&- || {
    log_tail postgres
    die "Postgres did not start (log: $log)"
  }
  pid="$(head -n 1 "$PGDATA/postmaster.pid")"
  record_proc postgres "$pid" "-D $PGDATA"
}

# stop_postgres [SIGNAL] -> default: pg_ctl stop -m fast (what `docker stop` does with the image's STOPSIGNAL SIGINT);
# KILL: the whole cluster at once; another signal (TERM = smart shutdown, STOP, CONT...) goes to the postmaster.
stop_postgres() {
  local sig="${1:-}" pid
  sig="${sig#SIG}"
  sig="${sig^^}"
  if ! pid="$(proc_pid postgres)"; then
    if [[ -n "$(pg_cluster_pids)" ]]; then
      # Processes of this cluster without our PID file (a postmaster started by hand, or orphaned backends).
      log "postgres: processes of $PGDATA run without a PID file here; pg_ctl stop -m fast"
      as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 10 -s 9>&- >/dev/null 2>&1 || true
      kill_pg_cluster
    else
      log "postgres is not running"
    fi
    forget_proc postgres
    return 0
  fi
  case "$sig" in
    "")
      log "postgres (pid $pid): pg_ctl stop -m fast"
      if ! as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t "${NATIVE_STOP_TIMEOUT:-20}" -s 9>&- ||
        ! wait_pg_cluster_gone 10; then
        warn "postgres (pid $pid) did not stop in time"
        kill_pg_cluster
      fi
      ;;
    KILL | 9) kill_pg_cluster ;;
    TERM | INT | QUIT | 15 | 2 | 3)
      log "postgres (pid $pid): SIG$sig, waiting up to ${NATIVE_STOP_TIMEOUT:-20}s"
      kill "-$sig" "$pid" 2>/dev/null || true
      wait_pg_cluster_gone "${NATIVE_STOP_TIMEOUT:-20}" || {
        warn "postgres did not exit in time"
        kill_pg_cluster
      }
      ;;
    *)
      log "postgres (pid $pid): SIG$sig"
      kill "-$sig" "$pid"
      return 0
      ;;
  esac
  forget_proc postgres
}

pg_create_app_db() {
  local admin="postgres://postgres@127.0.0.1:$PGPORT/postgres"
  psql "$admin" -X -q -v ON_ERROR_STOP=1 -v pw="$PGPASSWORD" >/dev/null <<'SQL'
SELECT format('CREATE ROLE app LOGIN CREATEDB PASSWORD %L', :'pw')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') \gexec
ALTER ROLE app PASSWORD :'pw';
SELECT 'CREATE DATABASE app OWNER app' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'app') \gexec
SQL
}

# ---------------------------------------------------------------------------------------------------------------------
# Launch scripts: `up` writes one per process into $LAUNCH_DIR; `start NAME` runs the same one again.

# write_launch NAME MATCH CMD... -> a script that records its PID and execs CMD from the repository root. MATCH is a
# piece of the program's command line that `down` checks before it signals the PID (see scripts/lib/proc.sh).
# LAUNCH_STDOUT, when set, sends the program's stdout to a file of its own (stderr stays in the process log).
write_launch() {
  local name="$1" match="$2" file="$LAUNCH_DIR/$1.sh"
  shift 2
  {
    printf '# Written by scripts/native.sh up; "scripts/native.sh start %s" runs it again.\n' "$name"
    printf '# match: %s\n' "$match"
    printf 'echo $$ >%q\n' "$RUN_DIR/$name.pid"
    printf 'cd %q\n' "$REPO_ROOT"
    [[ -n "${LAUNCH_STDOUT:-}" ]] && printf 'exec >>%q\n' "$LAUNCH_STDOUT"
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
  } >"$file"
  chmod 700 "$file"
}

# Settings every Node process gets; *_FILE twins are removed so an inherited one cannot conflict.
node_env() {
  printf '%s\n' env -u DATABASE_URL_FILE -u API_TOKEN_PEPPER_FILE NODE_ENV=production HOST=127.0.0.1 \
    "DATABASE_URL=$DATABASE_URL" "REDIS_CACHE_URL=$REDIS_CACHE_URL" "REDIS_QUEUE_URL=$REDIS_QUEUE_URL" \
    "API_TOKEN_PEPPER=$API_TOKEN_PEPPER" "PG_POOL_MAX=$PG_POOL_MAX"
}

write_launch_scripts() {
  local i node port mport
  local -a base
  node="$(command -v node)"
  mapfile -t base < <(node_env)
  mkdir -p "$LAUNCH_DIR"
  chmod 700 "$LAUNCH_DIR"
  write_launch redis-cache redis-server redis-server --port "$REDIS_CACHE_PORT" --bind 127.0.0.1 --daemonize no \
    --pidfile "$RUN_DIR/redis-cache.pid" --dir "$NATIVE_DIR/redis-cache" --logfile "" \
    --maxmemory 256mb --maxmemory-policy allkeys-lru --save "" --appendonly no
  write_launch redis-queue redis-server redis-server --port "$REDIS_QUEUE_PORT" --bind 127.0.0.1 --daemonize no \
    --pidfile "$RUN_DIR/redis-queue.pid" --dir "$NATIVE_DIR/redis-queue" --logfile "" \
    --maxmemory-policy noeviction --appendonly yes --appendfsync everysec --save ""
  for ((i = 1; i <= API_COUNT; i++)); do
    port="API_${i}_PORT" mport="API_${i}_METRICS_PORT"
    write_launch "api-$i" "$API_MAIN" "${base[@]}" "PORT=${!port}" "METRICS_PORT=${!mport}" "INSTANCE_NAME=api-$i" \
      "$node" "$API_MAIN"
  done
  for ((i = 1; i <= WORKER_COUNT; i++)); do
    port="WORKER_${i}_METRICS_PORT"
    write_launch "worker-$i" "$WORKER_MAIN" "${base[@]}" "WORKER_METRICS_PORT=${!port}" "INSTANCE_NAME=worker-$i" \
      "$node" "$WORKER_MAIN"
  done
  # nginx's stderr (its error log) goes to logs/nginx.stderr.log, its stdout (the shared config's access log) to
  # logs/nginx.stdout.log. As root, nginx runs its workers as `nobody` unless the config names a user.
  LAUNCH_STDOUT="$LOG_DIR/nginx.stdout.log" write_launch nginx "nginx" \
    nginx -p "$NATIVE_DIR/nginx/" -c "$NATIVE_DIR/nginx/conf/nginx.conf" -g "daemon off; pid $RUN_DIR/nginx.pid; worker_processes auto;"
}

# The nginx prefix: conf/ links every file and folder of the repository's nginx/ (but docker/) and adds the files
# that differ from compose: upstream.conf (inside the upstream block), listen.conf and loadtest-key.conf.
write_nginx_conf() {
  local src="${NATIVE_NGINX_SRC:-$REPO_ROOT/nginx}" conf="$NATIVE_DIR/nginx/conf" entry base i port
  [[ -f "$src/nginx.conf" ]] || die "$src/nginx.conf missing"
  rm -rf "$conf"
  mkdir -p "$conf" "$NATIVE_DIR/nginx/logs" "$NATIVE_DIR/nginx/cache" "$NATIVE_DIR/nginx/tmp"
  shopt -s nullglob dotglob
  for entry in "$src"/*; do
    base="${entry##*/}"
    case "$base" in docker | upstream.conf | listen.conf | loadtest-key.conf) continue ;; esac
    ln -s "$entry" "$conf/$base"
  done
  shopt -u nullglob dotglob
  {
    echo "# Written by scripts/native.sh up: one line per API process."
    for ((i = 1; i <= API_COUNT; i++)); do
      port="API_${i}_PORT"
      echo "server 127.0.0.1:${!port} max_fails=1 fail_timeout=5s;"
    done
  } >"$conf/upstream.conf"
  printf '# Written by scripts/native.sh up.\nlisten 127.0.0.1:%s;\n' "$NGINX_PORT" >"$conf/listen.conf"
  # The load-test allowance (see nginx/README.md): requests carrying X-Loadtest-Key: $LOADTEST_KEY skip the rate
  # limits, so a benchmark measures the stack, not the limiter. Requests without it are limited as usual.
  printf '# Written by scripts/native.sh up.\n"%s" 1;\n' "$LOADTEST_KEY" >"$conf/loadtest-key.conf"
  nginx -t -q -p "$NATIVE_DIR/nginx/" -c "$conf/nginx.conf" -g "daemon off; pid $RUN_DIR/nginx.pid; worker_processes auto;" \
    >"$LOG_DIR/nginx-test.log" 2>&1 || {
    log_tail nginx-test
    die "nginx -t failed for $conf/nginx.conf"
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# up

write_stack_env() {
  local i tmp="$STACK_ENV.tmp"
  {
    echo "# Written by scripts/native.sh up at $(date -u +%FT%TZ). KEY=VALUE lines: set -a; . ./stack.env; set +a"
    echo "NATIVE_DIR=$NATIVE_DIR"
    echo "NATIVE_REPO=$REPO_ROOT"
    echo "NATIVE_FAST=${NATIVE_FAST:-0}"
    echo "HOST=127.0.0.1"
    echo "PGHOST=127.0.0.1"
    echo "PGPORT=$PGPORT"
    echo "PGUSER=app"
    echo "PGPASSWORD=$PGPASSWORD"
    echo "PGDATABASE=app"
    echo "PGDATA=$PGDATA"
    echo "PG_SOCKET_DIR=$(pg_socket_dir)"
    echo "PG_MAX_CONNECTIONS=$PG_MAX_CONNECTIONS"
    echo "PG_POOL_MAX=$PG_POOL_MAX"
    echo "DATABASE_URL=$DATABASE_URL"
    echo "DATABASE_ADMIN_URL=$DATABASE_ADMIN_URL"
    echo "REDIS_CACHE_PORT=$REDIS_CACHE_PORT"
    echo "REDIS_CACHE_URL=$REDIS_CACHE_URL"
    echo "REDIS_QUEUE_PORT=$REDIS_QUEUE_PORT"
    echo "REDIS_QUEUE_URL=$REDIS_QUEUE_URL"
    echo "NGINX_PORT=$NGINX_PORT"
    echo "NGINX_URL=$NGINX_URL"
    echo "API_COUNT=$API_COUNT"
    for ((i = 1; i <= API_COUNT; i++)); do
      local p="API_${i}_PORT" m="API_${i}_METRICS_PORT"
      echo "API_${i}_PORT=${!p}"
      echo "API_${i}_URL=http://127.0.0.1:${!p}"
      echo "API_${i}_METRICS_PORT=${!m}"
      echo "API_${i}_METRICS_URL=http://127.0.0.1:${!m}/metrics"
    done
    echo "WORKER_COUNT=$WORKER_COUNT"
    for ((i = 1; i <= WORKER_COUNT; i++)); do
      local w="WORKER_${i}_METRICS_PORT"
      echo "WORKER_${i}_METRICS_PORT=${!w}"
      echo "WORKER_${i}_METRICS_URL=http://127.0.0.1:${!w}/metrics"
      echo "WORKER_${i}_HEALTH_URL=http://127.0.0.1:${!w}/healthz"
    done
    echo "API_TOKEN_PEPPER=$API_TOKEN_PEPPER"
    echo "DEV_ADMIN_TOKEN=$DEV_ADMIN_TOKEN"
    echo "DEV_CUSTOMER_TOKEN=$DEV_CUSTOMER_TOKEN"
    echo "LOADTEST_KEY=$LOADTEST_KEY"
  } >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$STACK_ENV"
}

# Chooses ports (the previous ones when still free) and secrets (kept across ups so tokens and data stay valid).
plan_stack() {
  local old="$STACK_ENV" i
  local -a keys=(PGPORT REDIS_CACHE_PORT REDIS_QUEUE_PORT NGINX_PORT) preferred=() ports=()
  for ((i = 1; i <= API_COUNT; i++)); do keys+=("API_${i}_PORT" "API_${i}_METRICS_PORT"); done
  for ((i = 1; i <= WORKER_COUNT; i++)); do keys+=("WORKER_${i}_METRICS_PORT"); done
  for i in "${keys[@]}"; do
    i="$(env_get "$old" "$i")"
    preferred+=("${i:-0}")
  done
  mapfile -t ports < <(node "$SCRIPT_DIR/lib/free-ports.mjs" "${#keys[@]}" "${preferred[@]}")
  ((${#ports[@]} == ${#keys[@]})) || die "could not pick ${#keys[@]} free ports"
  for i in "${!keys[@]}"; do printf -v "${keys[$i]}" '%s' "${ports[$i]}"; done

  PGPASSWORD="$(env_get "$old" PGPASSWORD)"
  API_TOKEN_PEPPER="$(env_get "$old" API_TOKEN_PEPPER)"
  DEV_ADMIN_TOKEN="$(env_get "$old" DEV_ADMIN_TOKEN)"
  DEV_CUSTOMER_TOKEN="$(env_get "$old" DEV_CUSTOMER_TOKEN)"
  LOADTEST_KEY="$(env_get "$old" LOADTEST_KEY)"
  [[ -n "$PGPASSWORD" ]] || PGPASSWORD="$(rand_hex 16)"
  [[ ${#API_TOKEN_PEPPER} -ge 32 ]] || API_TOKEN_PEPPER="$(rand_hex 32)"
  [[ -n "$DEV_ADMIN_TOKEN" ]] || DEV_ADMIN_TOKEN="stk_dev_admin_$(rand_hex 20)"
  [[ -n "$DEV_CUSTOMER_TOKEN" ]] || DEV_CUSTOMER_TOKEN="stk_dev_customer_$(rand_hex 20)"
  [[ -n "$LOADTEST_KEY" ]] || LOADTEST_KEY="$(rand_hex 16)" # 32 characters, the shortest nginx.conf accepts

  if [[ -z "${PG_POOL_MAX:-}" ]]; then
    PG_POOL_MAX=$((PG_APP_CONNECTIONS / (API_COUNT + WORKER_COUNT)))
    ((PG_POOL_MAX > 10)) && PG_POOL_MAX=10
    ((PG_POOL_MAX >= 2)) || die "API + WORKERS = $((API_COUNT + WORKER_COUNT)) leaves a pool under 2 connections"
  fi
  (((API_COUNT + WORKER_COUNT) * PG_POOL_MAX <= PG_APP_CONNECTIONS)) ||
    die "(API + WORKERS) x PG_POOL_MAX = $(((API_COUNT + WORKER_COUNT) * PG_POOL_MAX)) exceeds the budget of $PG_APP_CONNECTIONS"

  DATABASE_URL="postgres://app:$PGPASSWORD@127.0.0.1:$PGPORT/app"
  DATABASE_ADMIN_URL="postgres://postgres@127.0.0.1:$PGPORT/app"
  REDIS_CACHE_URL="redis://127.0.0.1:$REDIS_CACHE_PORT"
  REDIS_QUEUE_URL="redis://127.0.0.1:$REDIS_QUEUE_PORT"
  NGINX_URL="http://127.0.0.1:$NGINX_PORT"
}

# Returns 0 when this NATIVE_DIR already runs a stack with the requested counts, after starting whatever of it is
# down and checking readiness (idempotent up); 1 when nothing of it runs; refuses when other counts are running.
check_running() {
  local name
  local -a alive=() expected=()
  for name in $(recorded_names); do
    proc_pid "$name" >/dev/null && alive+=("$name")
  done
  ((${#alive[@]} == 0)) && return 1
  if [[ -f "$STACK_ENV" ]]; then
    load_stack_env
    mapfile -t expected < <(stack_names)
    if [[ "$API_COUNT" == "$WANT_API" && "$WORKER_COUNT" == "$WANT_WORKERS" ]]; then
      log "stack in $NATIVE_DIR is already running; starting what is down and checking readiness"
      for name in "${expected[@]}"; do
        if ! proc_pid "$name" >/dev/null; then
          UP_STARTED+=("$name")
          start_named "$name"
        fi
      done
      wait_ready "${expected[@]}"
      return 0
    fi
  fi
  cmd_status >&2 || true
  die "a stack with other counts runs in $NATIVE_DIR (running: ${alive[*]}); run scripts/native.sh down first"
}

run_logged() {
  local name="$1"
  shift
  if ! "$@" >"$LOG_DIR/$name.log" 2>&1; then
    log_tail "$name" 40
    die "$name failed (log: $LOG_DIR/$name.log)"
  fi
}

UP_DONE=0
UP_MODE=resume
UP_STARTED=()
BUILD_PID=""
# A failed `up` stops what it started: everything on a fresh start, only the restarted pieces when it resumed a
# running stack.
on_up_exit() {
  local status=$? name
  ((UP_DONE)) && return 0
  if [[ -n "$BUILD_PID" ]]; then kill "$BUILD_PID" 2>/dev/null || true; fi
  if [[ "${NATIVE_KEEP_ON_FAIL:-0}" == 1 ]]; then
    warn "up failed; processes left running (NATIVE_KEEP_ON_FAIL=1); stop them with scripts/native.sh down"
  elif [[ "$UP_MODE" == fresh ]]; then
    warn "up failed; stopping what it started (NATIVE_KEEP_ON_FAIL=1 keeps it)"
    stop_all || true
  elif ((${#UP_STARTED[@]} > 0)); then
    warn "up failed; stopping what it restarted: ${UP_STARTED[*]}"
    for name in "${UP_STARTED[@]}"; do
      if [[ "$name" == postgres ]]; then stop_postgres || true; else stop_proc "$name" || true; fi
    done
  fi
  exit "$status"
}

cmd_up() {
  WANT_API="${API:-2}"
  WANT_WORKERS="${WORKERS:-1}"
  [[ "$WANT_API" =~ ^[1-9][0-9]*$ ]] || die "API must be a positive integer (got '$WANT_API')"
  [[ "$WANT_WORKERS" =~ ^[0-9]+$ ]] || die "WORKERS must be a non-negative integer (got '$WANT_WORKERS')"
  # Entry points (relative to the repository root); overridable to test this script with stand-ins.
  API_MAIN="$(repo_path "${NATIVE_API_MAIN:-api/dist/main.js}")"
  WORKER_MAIN="$(repo_path "${NATIVE_WORKER_MAIN:-worker/dist/main.js}")"
  local migrate_main seed_main
  migrate_main="$(repo_path "${NATIVE_MIGRATE_MAIN:-core/dist/cli/migrate.js}")"
  seed_main="$(repo_path "${NATIVE_SEED_MAIN:-core/dist/cli/seed.js}")"
  local seed_mode="${NATIVE_SEED:-1}" seed_products="${SEED_PRODUCTS:-10000}"

  require_tools
  use_node24
  lock_stack
  trap on_up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if check_running; then
    UP_DONE=1
    trap - EXIT
    echo "$NGINX_URL"
    return 0
  fi
  UP_MODE=fresh
  touch "$MARKER"
  SECONDS=0
  log "up: $WANT_API API, $WANT_WORKERS worker(s) in $NATIVE_DIR"

  mkdir -p "$RUN_DIR" "$LOG_DIR" "$NATIVE_DIR/redis-cache" "$NATIVE_DIR/redis-queue"
  chmod 755 "$NATIVE_DIR"
  rm -f "$RUN_DIR"/*.pid "$RUN_DIR"/*.start "$RUN_DIR"/*.match
  find "$LOG_DIR" -maxdepth 1 -name '*.log' -delete

  if [[ "${NATIVE_BUILD:-1}" == 1 ]]; then
    log "npm run build (in the background, log: $LOG_DIR/build.log)"
    # Serialised across stacks of this checkout (a test stack and a dev stack may start at once): two tsc -b
    # writing the same dist/ files could let a process read a half-written one.
    mkdir -p "$REPO_ROOT/.tools"
    (cd "$REPO_ROOT" && flock 8 && exec npm run build 8>&-) >"$LOG_DIR/build.log" 2>&1 9>&- 8>"$REPO_ROOT/.tools/build.lock" &
    BUILD_PID=$!
  fi

  API_COUNT="$WANT_API" WORKER_COUNT="$WANT_WORKERS"
  plan_stack
  write_stack_env
  write_nginx_conf # checks it with nginx -t before anything starts

  pg_init
  pg_write_conf
  start_postgres
  pg_create_app_db
  log "postgres up (${SECONDS}s)"

  write_launch_scripts
  launch redis-cache
  launch redis-queue
  wait_ready redis-cache redis-queue

  if [[ -n "$BUILD_PID" ]]; then
    if ! wait "$BUILD_PID"; then
      BUILD_PID=""
      log_tail build 40
      die "npm run build failed (log: $LOG_DIR/build.log)"
    fi
    BUILD_PID=""
    log "build done (${SECONDS}s)"
  fi
  local main
  for main in "$API_MAIN" "$WORKER_MAIN" "$migrate_main"; do
    [[ -f "$main" ]] || die "$main missing after the build"
  done

  local -a base
  mapfile -t base < <(node_env)
  run_logged migrate "${base[@]}" "MIGRATIONS_DIR=$REPO_ROOT/db/init" INSTANCE_NAME=migrate \
    timeout 300 node "$migrate_main"
  log "migrations applied (${SECONDS}s)"

  local seed_marker="$NATIVE_DIR/seeded"
  if [[ "$seed_mode" == force || ("$seed_mode" == 1 && ! -f "$seed_marker") ]]; then
    log "seeding SEED_PRODUCTS=$seed_products (log: $LOG_DIR/seed.log)"
    local reset=false
    [[ "$seed_mode" == force ]] && reset=true
    run_logged seed "${base[@]}" INSTANCE_NAME=seed "SEED_PRODUCTS=$seed_products" "SEED_RESET=$reset" \
      "DEV_ADMIN_TOKEN=$DEV_ADMIN_TOKEN" "DEV_CUSTOMER_TOKEN=$DEV_CUSTOMER_TOKEN" \
      timeout 900 node "$seed_main"
    echo "SEED_PRODUCTS=$seed_products" >"$seed_marker"
    log "seeded (${SECONDS}s)"
  elif [[ "$seed_mode" != 0 ]]; then
    log "already seeded ($(cat "$seed_marker")); NATIVE_SEED=force seeds again"
  fi

  local -a apps=()
  local i
  for ((i = 1; i <= API_COUNT; i++)); do apps+=("api-$i"); done
  for ((i = 1; i <= WORKER_COUNT; i++)); do apps+=("worker-$i"); done
  for i in "${apps[@]}"; do launch "$i"; done
  wait_ready "${apps[@]}"

  launch nginx
  wait_ready nginx

  UP_DONE=1
  trap - EXIT
  log "stack up in ${SECONDS}s: $NGINX_URL (env: $STACK_ENV; stop: scripts/native.sh down)"
  echo "$NGINX_URL"
}

# ---------------------------------------------------------------------------------------------------------------------
# down, status, start, stop

# stop_parallel NAME... -> stop_proc for each at once. Waits for those jobs only: a bare `wait` would also wait for
# the programs this shell launched (a failed `up` calls this) and never return.
stop_parallel() {
  local name
  local -a jobs=()
  for name in "$@"; do
    stop_proc "$name" &
    jobs+=($!)
  done
  ((${#jobs[@]} == 0)) || wait "${jobs[@]}"
}

# Stops every process that has a PID file here: nginx, then the Node processes together (they drain in parallel),
# then Redis and Postgres.
stop_all() {
  local -a names nodes=() redis=()
  local name
  mapfile -t names < <(recorded_names)
  for name in "${names[@]}"; do
    case "$name" in
      api-* | worker-*) nodes+=("$name") ;;
      redis-*) redis+=("$name") ;;
    esac
  done
  [[ " ${names[*]} " == *" nginx "* ]] && stop_proc nginx
  stop_parallel "${nodes[@]}"
  stop_parallel "${redis[@]}"
  if [[ " ${names[*]} " == *" postgres "* ]]; then
    require_tools
    stop_postgres
  fi
}

cmd_down() {
  local purge="${NATIVE_PURGE:-0}"
  [[ "${1:-}" == --purge ]] && purge=1
  if [[ ! -d "$NATIVE_DIR" ]]; then
    log "nothing to stop: $NATIVE_DIR does not exist"
    return 0
  fi
  [[ -f "$MARKER" || -f "$STACK_ENV" ]] || die "$NATIVE_DIR is not a native stack folder (no .native-stack)"
  lock_stack
  stop_all
  if [[ "$purge" == 1 ]]; then
    local socket_dir
    socket_dir="$(pg_socket_dir)"
    [[ "$socket_dir" == /tmp/native-pg-* ]] && rm -rf "$socket_dir"
    rm -rf "$NATIVE_DIR"
    log "stopped and deleted $NATIVE_DIR"
  else
    log "stopped; data kept in $NATIVE_DIR (down --purge deletes it)"
  fi
}

cmd_status() {
  load_stack_env
  local name pid state all_up=0
  printf '%-12s %-8s %-6s %s\n' NAME PID STATE ADDRESS
  while read -r name; do
    if pid="$(proc_pid "$name")"; then
      state=up
    else
      pid=- state=down all_up=1
    fi
    printf '%-12s %-8s %-6s 127.0.0.1:%s\n' "$name" "$pid" "$state" "$(port_of "$name")"
  done < <(stack_names)
  printf 'nginx: %s  env: %s\n' "$NGINX_URL" "$STACK_ENV"
  return "$all_up"
}

valid_name() {
  local name="$1"
  # Not `stack_names | grep -q`: grep -q exits at the first match, stack_names may then die of SIGPIPE, and
  # pipefail turned that into "unknown process 'api-1'" now and then (seen in test/edge).
  grep -qx -- "$name" < <(stack_names) || die "unknown process '$name'; one of: $(stack_names | tr '\n' ' ')"
}

# start_named NAME -> starts one process of the loaded stack with the launch script `up` wrote for it.
start_named() {
  case "$1" in
    postgres)
      require_tools
      start_postgres
      ;;
    nginx)
      write_nginx_conf
      launch nginx
      ;;
    *) launch "$1" ;;
  esac
}

cmd_start() {
  local name="${1:?usage: native.sh start NAME}"
  load_stack_env
  valid_name "$name"
  lock_stack
  if proc_pid "$name" >/dev/null; then
    log "$name is already running"
    return 0
  fi
  start_named "$name"
  wait_ready "$name"
}

cmd_stop() {
  local name="${1:?usage: native.sh stop NAME [SIGNAL]}" sig="${2:-}"
  load_stack_env
  valid_name "$name"
  lock_stack
  if [[ "$name" == postgres ]]; then
    require_tools
    stop_postgres "$sig"
  else
    stop_proc "$name" "${sig:-TERM}"
  fi
}

cmd_env() {
  [[ -f "$STACK_ENV" ]] || {
    echo "$STACK_ENV"
    die "no stack.env yet; run scripts/native.sh up"
  }
  echo "$STACK_ENV"
}

usage() {
  sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    env) cmd_env ;;
    -h | --help | help | "") usage ;;
    *)
      echo "unknown command: $cmd" >&2
      usage
      ;;
  esac
}

main "$@"
