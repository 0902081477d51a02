#!/usr/bin/env bash
# Static checks of the edge and container files, no services and no container engine needed:
#   - dclint on docker-compose.yml and docker-compose.prod.yml (.dclintrc.yml)
#   - `docker compose config` on the base file and on base + prod overlay (when a compose CLI is available;
#     scripts/setup-compose.sh builds one from the Go module proxy into .tools/bin, cached)
#   - the prod overlay against the Docker CLI's stack schema (`docker stack config`, when the docker CLI exists)
#   - `nginx -t` on nginx/nginx.conf in the native layout and in the compose layout (when nginx is installed)
# Everything lives in test/static/*.test.ts; a check that cannot run is reported as skipped, with the reason.
#
# Env: CHECK_STATIC_BUILD_COMPOSE=0 to not try building the compose plugin (then its checks skip if it is absent).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ -x "$ROOT/.tools/node/bin/node" ]] && export PATH="$ROOT/.tools/node/bin:$PATH"

if [[ "${CHECK_STATIC_BUILD_COMPOSE:-1}" != 0 ]]; then
  bash "$ROOT/scripts/setup-compose.sh"
fi

compose_found=
if [[ -n "${COMPOSE_BIN:-}" || -x "$ROOT/.tools/bin/docker-compose" ]] || command -v docker-compose >/dev/null 2>&1 ||
  docker compose version >/dev/null 2>&1; then
  compose_found=1
fi
[[ -n "$compose_found" ]] ||
  echo "check-static: SKIP docker compose config checks: no compose CLI (scripts/setup-compose.sh could not build one)" >&2
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] ||
  echo "check-static: SKIP nginx -t checks: nginx is not installed (apt-get install nginx-light or nginx)" >&2
command -v docker >/dev/null 2>&1 ||
  echo "check-static: SKIP stack schema check: no docker CLI" >&2

exec npx --no-install vitest run --config test/static/vitest.config.ts "$@"
