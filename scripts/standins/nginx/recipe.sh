# shellcheck shell=bash
# The nginx stand-in's recipe, sourced by scripts/standins/build.sh (which defines in_root, in_image, expect,
# MMDEBSTRAP_COMMON and the other helpers used here). recipe_nginx ROOT WORK builds the root filesystem in ROOT (WORK
# is scratch space) and fills CHANGES with the image's Dockerfile-style settings for docker import; verify_nginx
# IMAGE checks the imported image before it gets its tag. This folder's files are part of the image's recipe hash.

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
