#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Builds local stand-ins for the upstream images that docker-compose.yml and the Dockerfile use, from Debian's
# packages, for machines that reach no image registry (only Debian's mirror and the npm registry):
#
#   node-stack-standin/nginx:1.30    for nginx:1.30-alpine       Debian sid: nginx 1.30.x, envsubst, wget
#   node-stack-standin/postgres:17   for postgres:17-alpine      Debian trixie: postgresql-17
#   node-stack-standin/redis:7       for redis:7.4-alpine        Debian bookworm: redis 7.0 (BSD; trixie's 8.x is AGPL)
#   node-stack-standin/node:24       for node:24-bookworm-slim   Debian bookworm + Node and npm from the npm registry
#   node-stack-standin/pgbouncer:1.24 for edoburu/pgbouncer:v1.24.1-p1   Debian trixie: pgbouncer 1.24
#   Built only when named (the observability profile, observability/docker-compose.yml):
#   node-stack-standin/prometheus:2.53         for prom/prometheus:v2.53.3     Debian trixie: prometheus 2.53
#   node-stack-standin/postgres-exporter:0.17  for quay.io/prometheuscommunity/postgres-exporter:v0.17.1
#   node-stack-standin/redis-exporter:1.69     for oliver006/redis_exporter:v1.69.0
#
# Each root filesystem comes from `mmdebstrap --variant=minbase`, gets the entrypoint (and files) in
# scripts/standins/<name>/ (its recipe.sh says how), and becomes an image with `docker import --change ...`. Every image carries the label
# node-stack.standin.recipe: the sha256 of this script and of its folder (for node also the Node version and the
# host's CA bundle, its other inputs). A tag whose label matches is not rebuilt; --force rebuilds it.
#
# Usage: bash scripts/standins/build.sh [--force] [--env] [nginx|postgres|redis|node|pgbouncer ...]   (no names: all)
#   stdout: one line per image (tag, built or up to date, seconds), then NGINX_IMAGE=... lines for callers;
#   --env: only those lines, e.g.  eval "$(bash scripts/standins/build.sh --env)"
#   Progress goes to stderr. Needs root (mmdebstrap's root mode, chroot), docker, mmdebstrap, and npm for node.
#
# Behaviour the compose files should know about is listed in scripts/standins/README.md.
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LOG_PREFIX="[standins]"
# shellcheck source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

HERE="$REPO_ROOT/scripts/standins"
SELF="$HERE/build.sh"
# Plain http: the one Debian mirror reachable here; apt inside the images uses the same sources.
MIRROR="http://deb.debian.org/debian"
REPO="node-stack-standin"
# npm 11: the major that Node 24 bundles upstream (the registry's latest is a newer major).
NPM_VERSION="11.21.2"
# The host's trust store: the registries are reached through a TLS-re-signing proxy whose CA is only in there.
HOST_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt"
STANDIN_CA_PATH="/usr/local/share/standin/host-ca.crt"

ALL=(nginx postgres redis node pgbouncer)
declare -A TAG=(
  [nginx]="$REPO/nginx:1.30"
  [postgres]="$REPO/postgres:17"
  [redis]="$REPO/redis:7"
  [node]="$REPO/node:24"
  [pgbouncer]="$REPO/pgbouncer:1.24"
  [prometheus]="$REPO/prometheus:2.53"
  [postgres-exporter]="$REPO/postgres-exporter:0.17"
  [redis-exporter]="$REPO/redis-exporter:1.69"
)
declare -A ENV_NAME=([nginx]=NGINX_IMAGE [postgres]=POSTGRES_IMAGE [redis]=REDIS_IMAGE [node]=NODE_IMAGE)
ENV_NAME+=([pgbouncer]=PGBOUNCER_IMAGE)
ENV_NAME+=([prometheus]=PROMETHEUS_IMAGE [postgres-exporter]=POSTGRES_EXPORTER_IMAGE [redis-exporter]=REDIS_EXPORTER_IMAGE)
declare -A UPSTREAM=(
  [nginx]="nginx:1.30-alpine"
  [postgres]="postgres:17-alpine"
  [redis]="redis:7.4-alpine"
  [node]="node:24-bookworm-slim"
  [pgbouncer]="edoburu/pgbouncer:v1.24.1-p1"
  [prometheus]="prom/prometheus:v2.53.3"
  [postgres-exporter]="quay.io/prometheuscommunity/postgres-exporter:v0.17.1"
  [redis-exporter]="oliver006/redis_exporter:v1.69.0"
)
declare -A SOURCE=(
  [nginx]="Debian sid's nginx package"
  [postgres]="Debian trixie's postgresql-17 package"
  [redis]="Debian bookworm's redis-server package"
  [node]="Debian bookworm with Node and npm from the npm registry"
  [pgbouncer]="Debian trixie's pgbouncer package"
  [prometheus]="Debian trixie's prometheus package"
  [postgres-exporter]="Debian trixie's prometheus-postgres-exporter package"
  [redis-exporter]="Debian trixie's prometheus-redis-exporter package"
)

PATH_DEFAULT="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Options every root filesystem is built with. The dpkg path filters are kept in the image, so a later
# `apt-get install` in a derived image stays free of documentation too.
MMDEBSTRAP_COMMON=(
  --variant=minbase
  --mode=root
  --format=directory
  # The mirror serves a frozen snapshot whose Release files are past their Valid-Until date; the option stays in
  # the image so apt works inside it too (the Dockerfile's runtime stage runs apt-get update on the node stand-in).
  --aptopt='Acquire::Check-Valid-Until "false"'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
)

usage() {
  sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SELF"
}

# account_hook NAME ID HOME SHELL -> a mmdebstrap hook adding user and group NAME with uid = gid = ID.
# Used as --essential-hook: the account must exist before the package whose postinst would create it with a
# random id, and useradd (package passwd) is not installed yet at that stage, so the files are edited directly.
account_hook() {
  # shellcheck disable=SC2016 # $1 is the hook's own argument (the root filesystem), expanded by mmdebstrap's sh
  printf 'echo %q >>"$1/etc/group" && echo %q >>"$1/etc/passwd"' "$1:x:$2:" "$1:x:$2:$2::$3:$4"
}

# in_root ROOT CMD... : runs CMD inside the root filesystem.
in_root() {
  local root=$1
  shift
  chroot "$root" /usr/bin/env -i PATH="$PATH_DEFAULT" LANG=C.UTF-8 "$@"
}

# expect WHAT GOT PATTERN : fails the build when GOT does not match the glob PATTERN.
expect() {
  # shellcheck disable=SC2053 # PATTERN is a glob on purpose
  [[ "$2" == $3 ]] || die "$1: got '$2', expected $3"
}

# in_image IMAGE CMD... : runs CMD in a throw-away container of IMAGE, without its entrypoint.
in_image() {
  local image=$1 cmd=$2
  shift 2
  docker run --rm --network none --entrypoint "$cmd" "$image" "$@"
}

# Leaves no host identity, logs or caches in the image; Docker provides hostname, hosts and resolv.conf at run time.
tidy_rootfs() {
  local root=$1
  rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/tmp/*
  rm -f "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  rm -f "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
  find "$root/var/log" -type f -delete
}

# ---------------------------------------------------------------------------------------------------------------

# recipe_hash NAME -> sha256 over this script, the image's folder and the inputs that live elsewhere.
recipe_hash() {
  local name=$1
  {
    sha256sum <"$SELF"
    (cd "$HERE" && find "$name" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    if [[ $name == node ]]; then
      printf 'node %s\n' "$NODE_PINNED_VERSION"
      sha256sum <"$HOST_CA_BUNDLE"
    fi
  } | sha256sum | cut -d ' ' -f 1
}

image_recipe() {
  docker image inspect --format '{{index .Config.Labels "node-stack.standin.recipe"}}' "$1" 2>/dev/null || true
}

# build NAME -> prints "TAG  built in Ns (...)" or "TAG  up to date".
build() {
  local name=$1 tag=${TAG[$1]} recipe work root start rootfs_done
  recipe="$(recipe_hash "$name")"
  if [[ $FORCE == 0 && "$(image_recipe "$tag")" == "$recipe" ]]; then
    printf '%-32s up to date (recipe %.12s)\n' "$tag" "$recipe"
    return 0
  fi
  log "building $tag (stand-in for ${UPSTREAM[$name]})"
  start=$SECONDS
  work="$(mktemp -d "${TMPDIR:-/tmp}/standin-$name.XXXXXX")"
  # Readable by apt's unprivileged _apt user, so its downloads stay sandboxed.
  chmod 755 "$work"
  WORKDIRS+=("$work")
  root="$work/rootfs"
  CHANGES=()
  # shellcheck source=/dev/null # one recipe per image folder
  source "$HERE/$name/recipe.sh"
  "recipe_$name" "$root" "$work" >&2
  rootfs_done=$SECONDS

  local description="Stand-in for ${UPSTREAM[$name]}, built from ${SOURCE[$name]} (scripts/standins)"
  local -a change_args=(
    --change "LABEL org.opencontainers.image.description=\"$description\""
    --change "LABEL node-stack.standin.recipe=$recipe"
  )
  local change
  for change in "${CHANGES[@]}"; do
    change_args+=(--change "$change")
  done
  # Imported untagged and checked first: a failed stream or check never leaves a tag with a valid-looking recipe
  # label (cleanup removes the pending image).
  PENDING_IMAGE="$(tar --numeric-owner --xattrs --xattrs-include='*' -C "$root" -cf - . |
    docker import "${change_args[@]}" --message "standin $name $recipe" -)"
  "verify_$name" "$PENDING_IMAGE" >&2
  local previous
  previous="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
  docker tag "$PENDING_IMAGE" "$tag"
  # The image this tag replaces goes too, unless a container or another tag still uses it.
  if [[ -n $previous && $previous != "$(docker image inspect --format '{{.Id}}' "$tag")" ]]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
  fi
  PENDING_IMAGE=""
  rm -rf --one-file-system "$work"
  printf '%-32s built in %ss (rootfs %ss, import %ss)\n' "$tag" "$((SECONDS - start))" \
    "$((rootfs_done - start))" "$((SECONDS - rootfs_done))"
}

cleanup() {
  [[ -z "${PENDING_IMAGE:-}" ]] || docker rmi "$PENDING_IMAGE" >/dev/null 2>&1 || true
  local dir
  for dir in "${WORKDIRS[@]}"; do
    # --one-file-system: never descend into anything a failed mmdebstrap left mounted.
    [[ -d $dir ]] && rm -rf --one-file-system "$dir"
  done
  return 0
}

main() {
  FORCE=0
  local env_only=0 arg name
  local -a names=()
  for arg in "$@"; do
    case $arg in
      --force) FORCE=1 ;;
      --env) env_only=1 ;;
      -h | --help)
        usage
        return 0
        ;;
      nginx | postgres | redis | node | pgbouncer | prometheus | postgres-exporter | redis-exporter) names+=("$arg") ;;
      *) die "unknown argument '$arg' (see --help)" ;;
    esac
  done
  ((${#names[@]})) || names=("${ALL[@]}")

  is_root || die "needs root (mmdebstrap --mode=root, chroot)"
  local tool
  for tool in mmdebstrap docker tar; do
    command -v "$tool" >/dev/null || die "$tool not found"
  done
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker engine answers"

  # One build at a time, also across concurrent callers: each root filesystem build keeps both cores busy.
  exec 9>"${TMPDIR:-/tmp}/node-stack-standins.lock"
  flock 9

  WORKDIRS=()
  PENDING_IMAGE=""
  trap cleanup EXIT
  for name in "${names[@]}"; do
    if ((env_only)); then
      build "$name" >&2
    else
      build "$name"
    fi
  done
  for name in "${names[@]}"; do
    printf '%s=%s\n' "${ENV_NAME[$name]}" "${TAG[$name]}"
  done
}

main "$@"
