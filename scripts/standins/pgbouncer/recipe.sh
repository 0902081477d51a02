# shellcheck shell=bash
# The pgbouncer stand-in's recipe, sourced by scripts/standins/build.sh (which defines in_root, in_image, expect,
# MMDEBSTRAP_COMMON and the other helpers used here). recipe_pgbouncer ROOT WORK builds the root filesystem in ROOT
# (WORK is scratch space) and fills CHANGES with the image's Dockerfile-style settings for docker import;
# verify_pgbouncer IMAGE checks the imported image before it gets its tag. This folder's files are part of the
# image's recipe hash.

recipe_pgbouncer() {
  local root=$1
  # Debian trixie: pgbouncer 1.24 (max_prepared_statements needs >= 1.21; bookworm has 1.18), and pg_isready from
  # postgresql-client-17 for the health check (the upstream image has the PostgreSQL client too). No server package,
  # so no cluster; the postgres account exists first, with upstream's uid, for postgresql-common's postinst.
  local packages=pgbouncer,postgresql-client-17
  mmdebstrap "${MMDEBSTRAP_COMMON[@]}" --essential-hook="$(account_hook postgres 70 /var/lib/postgresql /bin/sh)" \
    --include="$packages" trixie "$root" "$MIRROR"

  # Like upstream: no configuration until one is mounted (or, upstream only, generated from DB_* variables), an
  # empty auth file the image's user may replace, and a run folder it owns.
  rm -f "$root/etc/pgbouncer/pgbouncer.ini" "$root/etc/pgbouncer/userlist.txt"
  install -d -o 70 -g 70 "$root/etc/pgbouncer" "$root/var/run/pgbouncer"
  install -m 600 -o 70 -g 70 /dev/null "$root/etc/pgbouncer/userlist.txt"
  install -m 755 "$HERE/pgbouncer/docker-entrypoint.sh" "$root/entrypoint.sh"

  local version ids
  version="$(in_root "$root" pgbouncer --version | head -n 1)"
  expect "pgbouncer --version" "$version" "PgBouncer 1.2[1-9]*"
  version="${version#PgBouncer }"
  ids="$(in_root "$root" id -u postgres):$(in_root "$root" id -g postgres)"
  expect "postgres uid:gid" "$ids" "70:70"
  tidy_rootfs "$root"

  CHANGES=(
    "ENV PATH=/usr/lib/postgresql/17/bin:$PATH_DEFAULT"
    "ENV PGBOUNCER_VERSION=$version"
    "USER postgres"
    "EXPOSE 5432"
    'ENTRYPOINT ["/entrypoint.sh"]'
    'CMD ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]'
  )
}

verify_pgbouncer() {
  expect "id" "$(in_image "$1" id)" "uid=70(postgres) gid=70(postgres)*"
  expect "pg_isready by name" "$(in_image "$1" sh -c 'command -v pg_isready')" "/usr/lib/postgresql/17/bin/pg_isready"
  expect "pgbouncer by name" "$(in_image "$1" sh -c 'command -v pgbouncer')" "/usr/sbin/pgbouncer"
}
