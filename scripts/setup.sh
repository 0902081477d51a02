#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Machine set-up for a fresh Debian bookworm machine (CI runs it; so can you). Idempotent: run it as often as you like.
#
#   1. Debian packages that native mode, the tests and the benchmark run: postgresql, redis-server, nginx, chromium,
#      wrk, curl, procps; prometheus (promtool checks and tests the rules in make test; native mode's OBSERVABILITY=1
#      runs it), the nginx, Postgres and Redis exporters and mtail (nginx's access log as metrics). As root they are
#      installed with apt-get; otherwise the exact sudo command is printed and the script exits 1 (after doing the
#      steps below that need no root).
#      Services: the packages' postinst scripts would start a Postgres cluster on 5432, Redis on 6379, nginx on 80
#      and Prometheus with its exporters on 9090-9187.
#      While installing we hold them back with a policy-rc.d that refuses starts (unless one already exists), and
#      native mode never uses those ports anyway: it picks free ports, so system services that do run are left alone.
#   2. Node 24 in .tools/node from the npm registry package node-linux-<arch> (Debian's node is too old).
#   3. npm ci with that Node first on PATH (skipped when node_modules is newer than package-lock.json;
#      SETUP_NPM_CI=1 forces it).
#
# Env: NODE_PINNED_VERSION (default in scripts/lib/common.sh), SETUP_NPM_CI=1, SETUP_SKIP_APT=1.
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LOG_PREFIX="[setup]"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

APT_PACKAGES=(postgresql redis-server nginx chromium wrk curl procps ca-certificates
  prometheus prometheus-nginx-exporter prometheus-postgres-exporter prometheus-redis-exporter mtail)

pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing_packages() {
  local pkg
  local -a missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    pkg_installed "$pkg" || missing+=("$pkg")
  done
  # npm is only needed to fetch Node 24 when the machine has no npm at all.
  if ! command -v npm >/dev/null && ! pkg_installed npm; then missing+=(npm); fi
  ((${#missing[@]} == 0)) || printf '%s\n' "${missing[@]}"
}

# Installs packages with service starts refused, so no system Postgres/Redis/nginx is left running.
apt_install() {
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary, written by scripts/setup.sh: do not start services while installing\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  log "apt-get update"
  apt-get update -qq
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  if ((created_policy)); then
    rm -f "$policy"
    trap - EXIT
  fi
}

print_apt_command() {
  log "not root: install the missing Debian packages with"
  printf '  sudo apt-get update && sudo apt-get install -y %s\n' "$*" >&2
}

node_arch() {
  case "$(uname -m)" in
    x86_64) echo x64 ;;
    aarch64) echo arm64 ;;
    *) die "no node-linux-* package for $(uname -m)" ;;
  esac
}

install_node() {
  local have=""
  [[ -x "$NODE_HOME/bin/node" ]] && have="$(node_major "$NODE_HOME/bin/node")"
  if [[ "$have" == 24 ]]; then
    log "Node $("$NODE_HOME/bin/node" --version) already in .tools/node"
    return 0
  fi
  command -v npm >/dev/null || die "npm is needed to fetch Node 24 (apt-get install npm)"
  local pkg tmp tarball
  pkg="node-linux-$(node_arch)@$NODE_PINNED_VERSION"
  tmp="$(mktemp -d)"
  log "installing Node $NODE_PINNED_VERSION into .tools/node (npm pack $pkg)"
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  tarball="$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n 1)"
  [[ -n "$tarball" ]] || die "npm pack $pkg produced no tarball"
  tar -xzf "$tarball" -C "$tmp"
  chmod 755 "$tmp/package/bin/node"
  [[ "$("$tmp/package/bin/node" --version)" == "v$NODE_PINNED_VERSION" ]] ||
    die "unpacked node does not report v$NODE_PINNED_VERSION"
  mkdir -p "$REPO_ROOT/.tools"
  rm -rf "$NODE_HOME"
  mv "$tmp/package" "$NODE_HOME"
  rm -rf "$tmp"
  log "Node $("$NODE_HOME/bin/node" --version) installed"
}

install_node_modules() {
  local stamp="$REPO_ROOT/node_modules/.package-lock.json"
  if [[ "${SETUP_NPM_CI:-0}" != 1 && -f "$stamp" && "$stamp" -nt "$REPO_ROOT/package-lock.json" ]]; then
    log "node_modules up to date (SETUP_NPM_CI=1 forces npm ci)"
    return 0
  fi
  log "npm ci (node $(node --version))"
  (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
}

main() {
  local -a missing=()
  if [[ "${SETUP_SKIP_APT:-0}" != 1 ]]; then
    mapfile -t missing < <(missing_packages)
    if ((${#missing[@]} == 0)); then
      log "Debian packages present: ${APT_PACKAGES[*]}"
    elif is_root; then
      apt_install "${missing[@]}"
      missing=()
    elif ! command -v npm >/dev/null; then
      print_apt_command "${missing[@]}"
      exit 1
    fi
  fi

  install_node
  use_node24
  install_node_modules

  if ((${#missing[@]} > 0)); then
    print_apt_command "${missing[@]}"
    exit 1
  fi
  log "done"
}

main "$@"
