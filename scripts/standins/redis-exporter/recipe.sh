# shellcheck shell=bash
# The redis-exporter stand-in's recipe, sourced by scripts/standins/build.sh (which defines in_root, in_image, expect,
# MMDEBSTRAP_COMMON and the other helpers used here). recipe_redis-exporter ROOT WORK builds the root filesystem in
# ROOT and fills CHANGES for docker import; verify_redis-exporter IMAGE checks the imported image. This folder's
# files are part of the image's recipe hash.

recipe_redis-exporter() {
  # Debian trixie: prometheus-redis-exporter 1.69 (upstream oliver006/redis_exporter:v1.69.0), linked where the
  # upstream image has its binary; run as uid 59000 as upstream, configured by REDIS_* variables.
  mmdebstrap "${MMDEBSTRAP_COMMON[@]}" --include=prometheus-redis-exporter trixie "$1" "$MIRROR"
  ln -sf /usr/bin/prometheus-redis-exporter "$1/redis_exporter"
  tidy_rootfs "$1"
  CHANGES=("ENV PATH=$PATH_DEFAULT" "USER 59000:59000" "EXPOSE 9121" 'ENTRYPOINT ["/redis_exporter"]')
}

verify_redis-exporter() {
  expect "id -u" "$(in_image "$1" id -u)" "59000"
  expect "redis_exporter --version" "$(in_image "$1" /redis_exporter --version 2>&1 | head -n 1)" "*1.69*"
}
