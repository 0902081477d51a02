#!/usr/bin/env bash
# `make loadtest`: k6 (grafana/k6 container, the compose service `k6` of profile `loadtest`) against nginx on the
# compose network, with the scenario's thresholds deciding the exit code (k6 exits 99 when one fails).
#
#   SCENARIO=smoke|load|stress|spike|soak   [smoke]   which load-tests/<scenario>.js to run
#   RATE_SCALE, DURATION_SCALE              [1]       multiply the scenario's rates / durations (a quick look: 0.1)
#   LOADTEST_SEED                           [7]       seed of the draws (hot products, request mix), as natively
#
# Needs the stack running (`make up`), nothing else: first the seed service's container prepares the data
# (core/src/cli/loadtest-prepare.ts: an empty database gets `make seed`'s demo data; the load-test customers get
# their tokens "<LOADTEST_TOKEN_SECRET>-c<n>", which k6 derives from the same secret). nginx's load-test allowance
# (LOADTEST_KEY, on by default in development) keeps the run from measuring nginx's rate limiter.
# Output in load-tests/results/: <scenario>-summary.json (handleSummary) and <scenario>-report.html (k6 web
# dashboard export). The same workload runs natively, without Docker: scripts/loadtest-native.sh.
set -euo pipefail

LOG_PREFIX="[loadtest]"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SCENARIO="${SCENARIO:-smoke}"
case "$SCENARIO" in
  smoke | load | stress | spike | soak) ;;
  *) die "SCENARIO must be one of smoke, load, stress, spike, soak (got '$SCENARIO')" ;;
esac
command -v docker >/dev/null || die "docker not found: make loadtest runs k6 in a container; without Docker use make loadtest-native"

cd "$REPO_ROOT"
mkdir -p load-tests/results
args=(--profile loadtest run --rm)
for name in RATE_SCALE DURATION_SCALE LOADTEST_SEED; do
  [[ -n "${!name:-}" ]] && args+=(-e "$name=${!name}")
done
log "preparing load-test data and tokens"
docker compose run --rm seed node core/dist/cli/loadtest-prepare.js
log "k6 scenario $SCENARIO against nginx (results in load-tests/results/)"
status=0
# The container runs as the caller, so the results it writes into the bind mount belong to the caller.
SCENARIO="$SCENARIO" LOADTEST_UID="$(id -u)" LOADTEST_GID="$(id -g)" docker compose "${args[@]}" k6 || status=$?
case "$status" in
  0) log "passed: load-tests/results/$SCENARIO-summary.json, load-tests/results/$SCENARIO-report.html" ;;
  99) log "THRESHOLDS FAILED (k6 exit 99): see load-tests/results/$SCENARIO-summary.json" ;;
  *) log "k6 exited with $status" ;;
esac
exit "$status"
