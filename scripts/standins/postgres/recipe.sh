# shellcheck shell=bash
# The postgres stand-in's recipe, sourced by scripts/standins/build.sh (which defines in_root, in_image, expect,
# MMDEBSTRAP_COMMON and the other helpers used here). recipe_postgres ROOT WORK builds the root filesystem in ROOT (WORK
# is scratch space) and fills CHANGES with the image's Dockerfile-style settings for docker import; verify_postgres
# IMAGE checks the imported image before it gets its tag. This folder's files are part of the image's recipe hash.

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
