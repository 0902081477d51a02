#!/usr/bin/env bash
# Creates the Swarm secrets docker-stack.yml names (<stack>_<name>) from the files in secrets/, each only when it
# does not exist yet: a secret is immutable, and an existing one is what running tasks use (rotation: docs/swarm.md).
#
#   STACK=nodestack bash scripts/stack-secrets.sh
#
# secrets/postgres_password, secrets/db_owner_password, secrets/db_app_password, secrets/database_url,
# secrets/database_direct_url, secrets/database_owner_url, secrets/api_token_pepper, secrets/redis_cache_password,
# secrets/redis_cache_url, secrets/redis_queue_password, secrets/redis_queue_url, secrets/webhook_secret_key: the
# production profile's files (README "Production profile" creates them). secrets/nginx_loadtest_key.conf is optional:
# one `"<key>" 1;` line turns on nginx's load-test allowance; without it the secret is created empty and the allowance
# is off. secrets/webhook_secret_previous_keys is optional too (the old keys during a rotation; else created empty).
set -euo pipefail

# shellcheck disable=SC2034 # read by log() in lib/common.sh
LOG_PREFIX="[stack]"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

STACK="${STACK:-nodestack}"
SECRETS_DIR="${SECRETS_DIR:-$REPO_ROOT/secrets}"

exists() { docker secret inspect "$1" >/dev/null 2>&1; }

for name in postgres_password db_owner_password db_app_password database_url database_direct_url database_owner_url \
  api_token_pepper redis_cache_password redis_cache_url redis_queue_password redis_queue_url webhook_secret_key; do
  secret="${STACK}_$name"
  if exists "$secret"; then
    log "secret $secret exists: kept"
    continue
  fi
  [[ -s "$SECRETS_DIR/$name" ]] || die "$SECRETS_DIR/$name is missing or empty (README \"Production profile\" creates it)"
  docker secret create "$secret" "$SECRETS_DIR/$name" >/dev/null
  log "secret $secret created from $SECRETS_DIR/$name"
done

# An optional secret: from its file when that has content, else a comment line (a Swarm secret cannot be empty).
optional_secret() {
  local name="$1" file="$2" absent="$3"
  local secret="${STACK}_$name"
  if exists "$secret"; then
    log "secret $secret exists: kept"
  elif [[ -s "$file" ]]; then
    docker secret create "$secret" "$file" >/dev/null
    log "secret $secret created from $file"
  else
    printf '# %s (scripts/stack-secrets.sh).\n' "$absent" | docker secret create "$secret" - >/dev/null
    log "secret $secret created empty ($absent)"
  fi
}

optional_secret nginx_loadtest_key "$SECRETS_DIR/nginx_loadtest_key.conf" "No load-test allowance"
optional_secret webhook_secret_previous_keys "$SECRETS_DIR/webhook_secret_previous_keys" "No previous webhook secret keys"
