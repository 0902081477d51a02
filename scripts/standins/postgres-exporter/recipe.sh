# shellcheck shell=bash
# The postgres-exporter stand-in's recipe, sourced by scripts/standins/build.sh (which defines in_root, in_image,
# expect, MMDEBSTRAP_COMMON and the other helpers used here). recipe_postgres-exporter ROOT WORK builds the root
# filesystem in ROOT and fills CHANGES for docker import; verify_postgres-exporter IMAGE checks the imported image.
# This folder's files are part of the image's recipe hash.

recipe_postgres-exporter() {
  local root=$1
  # Debian trixie: prometheus-postgres-exporter 0.17 (upstream quay.io/prometheuscommunity/postgres-exporter:v0.17.x).
  mmdebstrap "${MMDEBSTRAP_COMMON[@]}" --include=prometheus-postgres-exporter trixie "$root" "$MIRROR"

  # Like upstream: the binary at /bin/postgres_exporter, run as nobody, configured by DATA_SOURCE_* variables.
  ln -sf /usr/bin/prometheus-postgres-exporter "$root/bin/postgres_exporter"

  local version
  version="$(in_root "$root" postgres_exporter --version 2>&1 | head -n 1)"
  expect "postgres_exporter --version" "$version" "postgres_exporter, version 0.1[5-9]*"
  version="${version#postgres_exporter, version }"
  version="${version%% *}"
  tidy_rootfs "$root"

  CHANGES=(
    "ENV PATH=$PATH_DEFAULT"
    "ENV POSTGRES_EXPORTER_VERSION=$version"
    "USER nobody"
    "EXPOSE 9187"
    'ENTRYPOINT ["/bin/postgres_exporter"]'
  )
}

verify_postgres-exporter() {
  expect "id" "$(in_image "$1" id)" "uid=65534(nobody) gid=65534(nogroup)*"
}
