#!/usr/bin/env bash
# Builds the CNCF Distribution registry (Apache-2.0; what `docker run registry` runs) from the Go module proxy into
# .tools/bin/registry, for the multi-node swarm test (tools/stack/swarm/nodes.ts, test/swarm-nodes): the nodes pull
# the project's images from it. Idempotent: a binary of the pinned version is kept.
#
# Env: REGISTRY_VERSION [v3.1.2], GO [go on PATH or /usr/local/go/bin/go].
# Exit 1 with the reason when Go or the proxy fails; the test then skips with that reason.
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LOG_PREFIX="[registry]"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

REGISTRY_VERSION="${REGISTRY_VERSION:-v3.1.2}"
# The binary, and beside it the version it was built from: a new pin rebuilds it.
TARGET="$REPO_ROOT/.tools/bin/registry"
if [[ -x "$TARGET" && "$(cat "$TARGET.version" 2>/dev/null)" == "$REGISTRY_VERSION" ]]; then
  log "registry $REGISTRY_VERSION present: $TARGET"
  exit 0
fi

go="${GO:-$(command -v go || true)}"
[[ -n "$go" ]] || { [[ -x /usr/local/go/bin/go ]] && go=/usr/local/go/bin/go; }
[[ -n "$go" ]] || die "no Go toolchain found (Go >= 1.24: apt-get install golang-go, or set GO=/path/to/go)"

mkdir -p "$(dirname "$TARGET")"
log "building github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION with $("$go" version | cut -d' ' -f3) (about 3 minutes on 2 cores)"
start=$SECONDS
# Its own module and build cache under .tools, as setup-loadgen.sh does; GOTOOLCHAIN=local: no silent toolchain
# download. `go install pkg@version` works here: the module's go.mod has no replace/exclude directives.
GOBIN="$(dirname "$TARGET")" GOFLAGS=-mod=mod GOPATH="$REPO_ROOT/.tools/go" GOCACHE="$REPO_ROOT/.tools/go/cache" \
  GOTOOLCHAIN=local CGO_ENABLED=0 "$go" install "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION" ||
  die "go install of the registry failed (Go module proxy: $("$go" env GOPROXY))"
[[ -x "$TARGET" ]] || die "go install finished but $TARGET is missing"
printf '%s\n' "$REGISTRY_VERSION" >"$TARGET.version"
log "registry built in $((SECONDS - start)) s: $TARGET"
