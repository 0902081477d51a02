#!/usr/bin/env bash
# `make bench`: the benchmark (bench/README.md) on the native stack, in one run (under 15 minutes on 2 cores): writes
# bench/results/latest.json and bench/results/latest.md (and the table between the bench markers of README.md and
# bench/README.md). Runs in its own native stack (NATIVE_DIR .native-bench), seeded by the benchmark itself, and
# stops and deletes it afterwards (BENCH_KEEP=1 keeps it). Numbers mean something only on a quiet machine.
#
# Env (bench/lib/settings.ts, bench/README.md "Options"): BENCH_SCALE, BENCH_ONLY, BENCH_KEEP, BENCH_NATIVE_DIR,
# BENCH_LARGE_PRODUCTS.
set -euo pipefail

LOG_PREFIX="[bench]"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR/.. source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"

for tool in wrk pgbench psql redis-cli nginx; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/setup.sh"
done
bash "$SCRIPT_DIR/setup-loadgen.sh"
use_node24
cd "$REPO_ROOT"
mkdir -p bench/results
exec node bench/run.ts
