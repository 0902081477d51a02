#!/usr/bin/env bash
# schemathesis (MIT, PyPI) in .tools/venv: fuzzes the api from its own OpenAPI document (test/fuzz/). Idempotent:
# skipped when the pinned version is already there.
#
# Env: SCHEMATHESIS_VERSION [4.32.5], PYTHON [python3].
set -euo pipefail

LOG_PREFIX="[fuzz]"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
VENV="$REPO_ROOT/.tools/venv"
PYTHON="${PYTHON:-python3}"

if [[ -x "$VENV/bin/schemathesis" ]] && [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" == *"$VERSION"* ]]; then
  log "schemathesis $VERSION present"
  exit 0
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
  is_root || die "python3 venv support is missing: sudo apt-get install -y python3-venv"
  log "installing python3-venv"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
log "installing schemathesis $VERSION into .tools/venv"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
log "schemathesis installed: $("$VENV/bin/schemathesis" --version)"
