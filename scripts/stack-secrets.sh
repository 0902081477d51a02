#!/usr/bin/env bash
# Creates the Swarm secrets docker-stack.yml names (<stack>_<name>) from the files in secrets/, each only when it
# does not exist yet: a secret is immutable, and an existing one is what running tasks use (rotation: docs/swarm.md).
#
#   STACK=nodestack bash scripts/stack-secrets.sh
#
# secrets/postgres_password, secrets/db_owner_password, secrets/db_app_password, secrets/database_url,
# secrets/database_direct_url, secrets/database_owner_url, secrets/api_token_pepper, secrets/redis_cache_password,
# secrets/redis_cache_url, secrets/redis_queue_password, secrets/redis_queue_url: the production profile's files
# (README "Production profile" creates them). secrets/nginx_loadtest_key.conf is optional: one `"<key>" 1;` line turns on
# nginx's load-test allowance; without it the secret is created empty and the allowance is off.
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LOG_PREFIX="[stack]"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

STACK="${STACK:-nodestack}"
SECRETS_DIR="${SECRETS_DIR:-$REPO_ROOT/secrets}"

exists() { docker secret inspect "$1" >/dev/null 2>&1; }

for name in postgres_password db_owner_password db_app_password database_url database_direct_url database_owner_url \
  api_token_pepper redis_cache_password redis_cache_url redis_queue_password redis_queue_url; do
  secret="${STACK}_$name"
  if exists "$secret"; then
    log "secret $secret exists: kept"
    continue
  fi
  [[ -s "$SECRETS_DIR/$name" ]] || die "$SECRETS_DIR/$name is missing or empty (README \"Production profile\" creates it)"
  docker secret create "$secret" "$SECRETS_DIR/$name" >/dev/null
  log "secret $secret created from $SECRETS_DIR/$name"
done

secret="${STACK}_nginx_loadtest_key"
if exists "$secret"; then
  log "secret $secret exists: kept"
elif [[ -f "$SECRETS_DIR/nginx_loadtest_key.conf" ]]; then
  docker secret create "$secret" "$SECRETS_DIR/nginx_loadtest_key.conf" >/dev/null
  log "secret $secret created from $SECRETS_DIR/nginx_loadtest_key.conf (load-test allowance on)"
else
  printf '# No load-test allowance (scripts/stack-secrets.sh).\n' | docker secret create "$secret" - >/dev/null
  log "secret $secret created empty (load-test allowance off)"
fi
