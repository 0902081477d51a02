# shellcheck shell=bash
# The redis-exporter stand-in's recipe, sourced by scripts/standins/build.sh (which defines in_root, in_image, expect,
# MMDEBSTRAP_COMMON and the other helpers used here). recipe_redis-exporter ROOT WORK builds the root filesystem in
# ROOT and fills CHANGES for docker import; verify_redis-exporter IMAGE checks the imported image. This folder's
# files are part of the image's recipe hash.

recipe_redis-exporter() {
  local root=$1
  # Debian trixie: prometheus-redis-exporter 1.69 (upstream oliver006/redis_exporter:v1.69.0).
  mmdebstrap "${MMDEBSTRAP_COMMON[@]}" --include=prometheus-redis-exporter trixie "$root" "$MIRROR"

  # Like upstream: the binary at /redis_exporter, run as uid 59000, configured by REDIS_* variables.
  ln -sf /usr/bin/prometheus-redis-exporter "$root/redis_exporter"

  local version
  version="$(in_root "$root" /redis_exporter --version 2>&1 | head -n 1)"
  expect "redis_exporter --version" "$version" "*1.69*"
  tidy_rootfs "$root"

  CHANGES=(
    "ENV PATH=$PATH_DEFAULT"
    "USER 59000:59000"
    "EXPOSE 9121"
    'ENTRYPOINT ["/redis_exporter"]'
  )
}

verify_redis-exporter() {
  expect "id -u" "$(in_image "$1" id -u)" "59000"
}
