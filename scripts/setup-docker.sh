#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Makes a Docker engine that compose can use available on this machine, for the container tests (test/containers).
#
#   install   Installs what is missing: an engine >= 25 (compose's health-check `start_interval` needs it; Debian
#             bookworm's docker.io is 20.10, so the docker.io and docker-cli packages come from Debian trixie, which
#             install on bookworm with bookworm's containerd, runc, iptables and tini), mmdebstrap (builds the
#             stand-in base images, scripts/standins), and links the compose plugin that setup-compose.sh built.
#   start     Starts dockerd in the background (log and PID file in .tools/docker/) unless an engine already answers.
#             Only an engine this script started is ever stopped by it.
#   stop      Stops the dockerd that `start` started (by its PID file), nothing else.
#   status    Prints "ok" when an engine >= 25 answers, or the reason why the container tests cannot run.
#
# Never fails the caller for a missing capability (not root, no kernel support, no package): it prints the exact reason,
# and `status` repeats it, so the container tests are skipped loudly instead of failing set-up.
set -uo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LOG_PREFIX="[docker]"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

STATE="$REPO_ROOT/.tools/docker"
PIDFILE="$STATE/dockerd.pid"
LOGFILE="$STATE/dockerd.log"
MIN_ENGINE_MAJOR=25
TRIXIE_PACKAGES=(docker.io docker-cli)

engine_major() {
  local v
  v="$(timeout 10 docker version --format '{{.Server.Version}}' 2>/dev/null)" || return 1
  [[ -n "$v" ]] || return 1
  printf '%s' "${v%%.*}"
}

engine_ok() {
  local major
  major="$(engine_major)" || return 1
  ((major >= MIN_ENGINE_MAJOR))
}

dockerd_major() {
  local v
  v="$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')"
  [[ -n "$v" ]] && printf '%s' "$v"
}

# apt-get with Debian trixie's package lists in .tools/apt-trixie, the machine's own sources untouched.
trixie_apt() {
  local dir="$REPO_ROOT/.tools/apt-trixie"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  [[ -f "$dir/sources.list" ]] || echo 'deb http://deb.debian.org/debian trixie main' >"$dir/sources.list"
  "$1" -o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" "${@:2}"
}

install_engine() {
  local have
  have="$(dockerd_major)"
  if [[ -n "$have" ]] && ((have >= MIN_ENGINE_MAJOR)); then
    log "dockerd $have.x already installed"
    return 0
  fi
  log "installing Docker Engine from Debian trixie (${TRIXIE_PACKAGES[*]}); bookworm's own is ${have:-absent}"
  local tmp
  tmp="$(mktemp -d)"
  trixie_apt apt-get update -qq || {
    warn "could not read Debian trixie's package lists"
    return 1
  }
  (cd "$tmp" && trixie_apt apt-get download -qq "${TRIXIE_PACKAGES[@]}") || {
    warn "could not download ${TRIXIE_PACKAGES[*]} from trixie"
    return 1
  }
  # A policy-rc.d that refuses starts: there is no init system, and we start dockerd ourselves.
  local policy=/usr/sbin/policy-rc.d created=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tmp"/*.deb >/dev/null
  local rc=$?
  ((created)) && rm -f "$policy"
  rm -rf "$tmp"
  ((rc == 0)) || {
    warn "apt-get install of the trixie engine failed (exit $rc)"
    return 1
  }
  log "installed $(dockerd --version)"
}

install_tools() {
  local -a missing=()
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  ((${#missing[@]} == 0)) && return 0
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# `docker compose` finds plugins in ~/.docker/cli-plugins; link the one scripts/setup-compose.sh built, unless a
# compose plugin is there already.
link_compose() {
  if docker compose version >/dev/null 2>&1; then
    return 0
  fi
  local built="$REPO_ROOT/.tools/bin/docker-compose"
  [[ -x $built ]] || {
    warn "no compose plugin: scripts/setup-compose.sh did not build one"
    return 1
  }
  local dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  mkdir -p "$dir" && ln -sf "$built" "$dir/docker-compose"
  log "linked $dir/docker-compose -> $built"
}

cmd_install() {
  if engine_ok; then
    log "a Docker engine $(engine_major).x answers already: nothing to install"
    link_compose
    return 0
  fi
  is_root || {
    warn "not root: cannot install a Docker engine; the container tests will be skipped"
    return 0
  }
  install_engine || return 0
  install_tools || warn "could not install mmdebstrap: stand-in images cannot be built"
  link_compose
  return 0
}

cmd_start() {
  if engine_ok; then
    log "engine $(engine_major).x already answers; not starting another"
    return 0
  fi
  is_root || {
    warn "not root: cannot start dockerd"
    return 0
  }
  command -v dockerd >/dev/null || {
    warn "no dockerd installed (make setup installs one)"
    return 0
  }
  mkdir -p "$STATE"
  if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "dockerd (pid $(cat "$PIDFILE")) is starting"
  else
    # No init system here: the engine runs in the background, with its own log. `setsid` so a Ctrl-C in the
    # calling terminal does not reach it.
    setsid dockerd --pidfile "$STATE/dockerd.engine.pid" >"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    log "started dockerd (pid $!, log $LOGFILE)"
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    engine_ok && {
      log "engine $(engine_major).x ready"
      return 0
    }
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 1
  done
  warn "dockerd did not become ready; last lines of $LOGFILE:"
  tail -n 15 "$LOGFILE" >&2
  return 0
}

cmd_stop() {
  [[ -f $PIDFILE ]] || return 0
  local pid
  pid="$(cat "$PIDFILE")"
  # Only the dockerd this script started: the PID must still be a dockerd.
  if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]]; then
    kill -TERM "$pid"
    local i
    for ((i = 0; i < 30; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    log "stopped dockerd (pid $pid)"
  fi
  rm -f "$PIDFILE"
}

cmd_status() {
  if engine_ok; then
    echo ok
    return 0
  fi
  if ! command -v docker >/dev/null; then
    echo "no docker client (make setup installs one as root)"
  elif ! is_root && ! docker info >/dev/null 2>&1; then
    echo "no Docker engine answers and this user cannot start one (not root)"
  elif ! command -v dockerd >/dev/null; then
    echo "no Docker engine answers and none is installed (run make setup as root)"
  elif major="$(engine_major)"; then
    echo "Docker Engine $major.x answers, but compose's health checks need >= $MIN_ENGINE_MAJOR"
  else
    echo "no Docker engine answers (scripts/setup-docker.sh start; its log: $LOGFILE)"
  fi
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "usage: $0 install|start|stop|status" ;;
esac
