# shellcheck shell=bash
# The prometheus stand-in's recipe, sourced by scripts/standins/build.sh (which defines in_root, in_image, expect,
# MMDEBSTRAP_COMMON and the other helpers used here). recipe_prometheus ROOT WORK builds the root filesystem in ROOT
# (WORK is scratch space) and fills CHANGES with the image's Dockerfile-style settings for docker import;
# verify_prometheus IMAGE checks the imported image before it gets its tag. This folder's files are part of the
# image's recipe hash.

recipe_prometheus() {
  local root=$1
  # Debian trixie: prometheus 2.53 (the upstream image prom/prometheus:v2.53.x), and wget for the health check (the
  # upstream image has busybox's).
  mmdebstrap "${MMDEBSTRAP_COMMON[@]}" --include=prometheus,wget trixie "$root" "$MIRROR"

  # Like upstream: the binary at /bin/prometheus (trixie's merged /usr makes /bin/prometheus the package's
  # /usr/bin/prometheus already), its data in /prometheus owned by nobody, a default configuration in
  # /etc/prometheus (Debian's own, scraping itself).
  [[ -x "$root/bin/prometheus" && -x "$root/bin/promtool" ]] || die "/bin/prometheus or /bin/promtool missing"
  install -d -o 65534 -g 65534 "$root/prometheus"

  local version
  version="$(in_root "$root" prometheus --version 2>&1 | head -n 1)"
  expect "prometheus --version" "$version" "prometheus, version 2.53.*"
  version="${version#prometheus, version }"
  version="${version%% *}"
  tidy_rootfs "$root"

  CHANGES=(
    "ENV PATH=$PATH_DEFAULT"
    "ENV PROMETHEUS_VERSION=$version"
    "USER nobody"
    "WORKDIR /prometheus"
    "VOLUME /prometheus"
    "EXPOSE 9090"
    'ENTRYPOINT ["/bin/prometheus"]'
    'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'
  )
}

verify_prometheus() {
  expect "id" "$(in_image "$1" id)" "uid=65534(nobody) gid=65534(nogroup)*"
  in_image "$1" /bin/promtool --version >/dev/null
  in_image "$1" wget --version >/dev/null
}
