#!/usr/bin/env bash
# `make loadtest-native`: the load-test workload (load-tests/workload.json, the same one k6 runs in `make loadtest`)
# against the native stack, with vegeta (open-model stages) and wrk (closed-model phases) instead of k6, whose AGPL
# license keeps it off our machines. Exit code like k6's: 0 passed, 99 a threshold failed, anything else an error.
#
#   SCENARIO=smoke|load|stress|spike|soak   [smoke]
#   RATE_SCALE, DURATION_SCALE              [1]        multiply the scenario's rates / durations
#   NATIVE_DIR                              [.native]  the stack to use; started with make native-up (seeded
#                                                      with SEED_PRODUCTS [10000]) when it is not running, and left
#                                                      running afterwards (make native-down stops it)
#   LOADTEST_CUSTOMERS                      [200]      seeded customers to act as (their tokens are added if missing)
#   LOADTEST_SEED                           [7]        seed of the draws (hot products, request mix), as in k6
#
# Output: load-tests/results/native-<scenario>-<time>/summary.json and report.html, and the table on stdout.
set -euo pipefail

LOG_PREFIX="[loadtest-native]"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"

SCENARIO="${SCENARIO:-smoke}"
case "$SCENARIO" in
  smoke | load | stress | spike | soak) ;;
  *) die "SCENARIO must be one of smoke, load, stress, spike, soak (got '$SCENARIO')" ;;
esac

bash "$SCRIPT_DIR/setup-loadgen.sh"
use_node24
export NATIVE_DIR="${NATIVE_DIR:-.native}"
log "native stack in $NATIVE_DIR (make native-up: starts it unless it already runs)"
cd "$REPO_ROOT"
node tools/stack/native/cli.ts up >/dev/null

status=0
node load-tests/native/run.ts --scenario "$SCENARIO" \
  --duration-scale "${DURATION_SCALE:-1}" --rate-scale "${RATE_SCALE:-1}" || status=$?
exit "$status"
