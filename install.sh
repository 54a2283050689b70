#!/usr/bin/env bash
# Install Desk Assistant and answer a first question from the bundled sample documents,
# with the embedded models (no download, no network).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${DESK_ASSISTANT_VENV:-$ROOT/.venv}
"$ROOT/scripts/bootstrap.sh"
da=("$VENV/bin/desk-assistant" --collection samples)
"${da[@]}" ingest "$ROOT/assets/samples"
"${da[@]}" ask "How much is the monthly rent?"
echo
echo "Done. Ask about your own files:"
echo "  $VENV/bin/desk-assistant ingest ~/Documents"
echo "  $VENV/bin/desk-assistant ask \"...\""
echo "  $VENV/bin/desk-assistant            # the desktop app"
