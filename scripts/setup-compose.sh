#!/usr/bin/env bash
# Builds the Docker Compose CLI plugin from the Go module proxy and caches it in .tools/bin/docker-compose.
#
# Why: the CI/dev machines have the docker client but no compose plugin and no container engine. `docker compose
# config` does not need an engine, so a plugin built from source lets scripts/check-static.sh validate the compose
# files exactly the way `docker compose up` will parse them.
#
# Contract: never fails the caller. If Go or the module proxy is unavailable, or the build fails, it prints why and
# exits 0; scripts/check-static.sh then skips the compose check with a visible reason.
#
# Env: COMPOSE_VERSION (default below), GO (go binary), SETUP_COMPOSE_FORCE=1 to rebuild,
# SETUP_COMPOSE_LINK_PLUGIN=1 to also link it into ~/.docker/cli-plugins.
set -uo pipefail

COMPOSE_VERSION="${COMPOSE_VERSION:-v2.40.3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$ROOT/.tools/bin"
TARGET="$BIN_DIR/docker-compose"
STAMP="$BIN_DIR/docker-compose.version"

say() { printf 'setup-compose: %s\n' "$*" >&2; }

if [[ -x "$TARGET" && "$(cat "$STAMP" 2>/dev/null)" == "$COMPOSE_VERSION" && "${SETUP_COMPOSE_FORCE:-0}" != 1 ]]; then
  say "docker-compose $COMPOSE_VERSION already built at $TARGET"
  exit 0
fi

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then
    GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
  fi
fi
if [[ -z "$GO" ]] || ! "$GO" version >/dev/null 2>&1; then
  say "SKIP: no working Go toolchain found (install Go >= 1.24 or set GO=/path/to/go); compose checks will be skipped"
  exit 0
fi

mkdir -p "$BIN_DIR"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

say "building github.com/docker/compose/v2@$COMPOSE_VERSION ./cmd with $("$GO" version) (takes a few minutes)"
start=$SECONDS
# `go install pkg@version` refuses compose because its go.mod has `exclude` directives, so: fetch the released module
# from the proxy, copy it to a writable folder and build ./cmd there as the main module (excludes honoured), with the
# same -X version flag as compose's Makefile. GOTOOLCHAIN=local: never download another Go toolchain silently.
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
if ! SRC="$("$GO" mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" 2>"$WORK/download.log" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || [[ -z "$SRC" || ! -f "$SRC/go.mod" ]]; then
  say "SKIP: could not download the compose module from the Go module proxy; compose checks will be skipped:"
  tail -n 20 "$WORK/download.log" >&2
  exit 0
fi
cp -R "$SRC" "$WORK/src" && chmod -R u+w "$WORK/src"
if ! (cd "$WORK/src" && "$GO" build -trimpath \
  -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
  -o "$WORK/docker-compose" ./cmd) >"$WORK/build.log" 2>&1; then
  say "SKIP: build failed after $((SECONDS - start))s; compose checks will be skipped. Last lines of the build log:"
  tail -n 20 "$WORK/build.log" >&2
  exit 0
fi

mv "$WORK/docker-compose" "$TARGET"
printf '%s\n' "$COMPOSE_VERSION" >"$STAMP"
say "built $TARGET in $((SECONDS - start))s ($(du -h "$TARGET" | cut -f1))"

# Optional: register it as a docker CLI plugin so `docker compose ...` works (writes outside the project, so opt-in).
if [[ "${SETUP_COMPOSE_LINK_PLUGIN:-0}" == 1 ]]; then
  PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  mkdir -p "$PLUGIN_DIR" && ln -sf "$TARGET" "$PLUGIN_DIR/docker-compose" && say "linked $PLUGIN_DIR/docker-compose"
fi
exit 0
