#!/usr/bin/env bash
# Load generators for the native load tests, the smoke run in `make test` and `make bench`. Idempotent.
#
#   vegeta (MIT, Go): open-model runs at a constant arrival rate with latency percentiles. Built with the Go
#                     toolchain from the Go module proxy into .tools/bin; skipped when that binary is present.
#   wrk (Apache-2.0): closed-model throughput at a fixed number of connections. A Debian package, installed by
#                     scripts/setup.sh; this script only checks it.
#
# k6 is what `make loadtest` runs in the grafana/k6 container; it is NOT built here: the k6 Go module is AGPL and
# this project's machines may not install it. The native runner reads the same workload (load-tests/workload.json).
#
# Env: VEGETA_VERSION [v12.13.0], GO [go on PATH or /usr/local/go/bin/go].
set -euo pipefail

LOG_PREFIX="[loadgen]"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

VEGETA_VERSION="${VEGETA_VERSION:-v12.13.0}"
BIN_DIR="$REPO_ROOT/.tools/bin"

find_go() {
  if [[ -n "${GO:-}" ]]; then
    printf '%s' "$GO"
  elif command -v go >/dev/null; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    printf '%s' /usr/local/go/bin/go
  fi
}

install_vegeta() {
  local bin="$BIN_DIR/vegeta" go
  if [[ -x "$bin" ]]; then
    log "vegeta present: $bin ($(cat "$bin.version" 2>/dev/null || echo 'version unknown'))"
    return 0
  fi
  go="$(find_go)"
  [[ -n "$go" ]] || die "vegeta is missing and no Go toolchain was found: apt-get install golang-go (>= 1.22), or set GO=/path/to/go"
  mkdir -p "$BIN_DIR"
  log "building vegeta $VEGETA_VERSION with $("$go" version | cut -d' ' -f3) into .tools/bin (a minute or two)"
  # A private module/build cache under .tools keeps the build away from whoever else uses Go on this machine.
  GOBIN="$BIN_DIR" GOFLAGS=-mod=mod GOPATH="$REPO_ROOT/.tools/go" GOCACHE="$REPO_ROOT/.tools/go/cache" \
    CGO_ENABLED=0 "$go" install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
  [[ -x "$bin" ]] || die "go install finished but $bin is missing"
  # `go install` leaves the binary's -version empty; reports read the version from here.
  printf 'vegeta %s (%s)\n' "$VEGETA_VERSION" "$("$go" version | cut -d' ' -f3)" >"$bin.version"
  log "vegeta built: $bin"
}

check_wrk() {
  command -v wrk >/dev/null || die "wrk not found: run scripts/setup.sh (Debian package wrk)"
  log "wrk present: $(command -v wrk)"
}

install_vegeta
check_wrk
