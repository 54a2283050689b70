#!/usr/bin/env bash
# Run the test suite (installs the app and the dev tools into the venv first if needed).
# Extra arguments go to pytest, e.g. ./test.sh -k e2e -x
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${DESK_ASSISTANT_VENV:-$ROOT/.venv}
"$ROOT/scripts/bootstrap.sh" dev
cd "$ROOT"
exec "$VENV/bin/python" -m pytest "$@"
