# shellcheck shell=bash
# The redis stand-in's recipe, sourced by scripts/standins/build.sh (which defines in_root, in_image, expect,
# MMDEBSTRAP_COMMON and the other helpers used here). recipe_redis ROOT WORK builds the root filesystem in ROOT (WORK
# is scratch space) and fills CHANGES with the image's Dockerfile-style settings for docker import; verify_redis
# IMAGE checks the imported image before it gets its tag. This folder's files are part of the image's recipe hash.

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
