#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# PgBouncer >= 1.21 for native mode (issue 10): transaction pooling with `max_prepared_statements`, which bookworm's
# pgbouncer (1.18) lacks. Debian trixie's 1.24.1 cannot be installed here the way setup-docker.sh installs trixie's
# docker.io: it depends on libc6 >= 2.38 (bookworm has 2.36). So this builds trixie's source package instead, against
# bookworm's libraries: the upstream tarball and Debian's security patches (CVE-*.patch from debian/patches), both
# checked against the sha256 sums of Debian's .dsc, into .tools/pgbouncer (ignored; tools/stack/native finds it there).
#
# Idempotent: nothing happens when .tools/pgbouncer/bin/pgbouncer reports the pinned version. Build needs: gcc,
# make, pkg-config, libevent-dev, libssl-dev, patch, xz-utils, curl (installed with apt-get as root; otherwise the
# command is printed). About a minute on two cores.
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LOG_PREFIX="[pgbouncer]"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

VERSION=1.24.1
DEBIAN_REVISION=1+deb13u2
POOL="http://deb.debian.org/debian/pool/main/p/pgbouncer"
# From pgbouncer_1.24.1-1+deb13u2.dsc (Debian trixie).
ORIG_SHA256=da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0
DEBIAN_SHA256=2325bcaa2e71919d399b9e5aef5b94ff988fc1f1d296908c3937b682b7be5cbb
PREFIX="$REPO_ROOT/.tools/pgbouncer"
BUILD_PACKAGES=(gcc make pkg-config libevent-dev libssl-dev patch xz-utils curl)

installed_version() {
  "$PREFIX/bin/pgbouncer" --version 2>/dev/null | sed -n 's/^PgBouncer \([0-9.]*\).*/\1/p'
}

if [[ "$(installed_version)" == "$VERSION" ]]; then
  log "PgBouncer $VERSION already in .tools/pgbouncer"
  exit 0
fi

missing=()
for pkg in "${BUILD_PACKAGES[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  if ! is_root; then
    log "not root: install the build dependencies with"
    printf '  sudo apt-get install -y %s\n' "${missing[*]}" >&2
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fetch() {
  curl -fsS --retry 3 -o "$work/$1" "$POOL/${1//+/%2B}"
  echo "$2  $work/$1" | sha256sum -c --quiet - || die "$1: sha256 differs from Debian's .dsc"
}
log "building PgBouncer $VERSION (Debian trixie's source, $DEBIAN_REVISION patches) into .tools/pgbouncer"
fetch "pgbouncer_$VERSION.orig.tar.gz" "$ORIG_SHA256"
fetch "pgbouncer_$VERSION-$DEBIAN_REVISION.debian.tar.xz" "$DEBIAN_SHA256"
tar -xzf "$work/pgbouncer_$VERSION.orig.tar.gz" -C "$work"
tar -xJf "$work/pgbouncer_$VERSION-$DEBIAN_REVISION.debian.tar.xz" -C "$work"
src="$work/pgbouncer-$VERSION"
# The security fixes only; debian-config changes paths of Debian's own packaging.
while read -r patch; do
  [[ $patch == CVE-* ]] || continue
  patch -s -p1 -d "$src" <"$work/debian/patches/$patch"
done <"$work/debian/patches/series"
# DNS through libevent (no c-ares), no PAM, no systemd socket activation: native mode needs none of them.
(cd "$src" && ./configure -q --prefix="$PREFIX" --without-cares --without-pam --without-systemd >/dev/null &&
  make -s -j"$(nproc)" >/dev/null && rm -rf "$PREFIX" && make -s install >/dev/null)
[[ "$(installed_version)" == "$VERSION" ]] || die "the built pgbouncer does not report $VERSION"
log "installed $("$PREFIX/bin/pgbouncer" --version | head -n 1)"
