#!/usr/bin/env bash
# Build the peer bench: its own venv (kept out of git) and the seeded crm_bench_peer_helpdesk database.
# Usage (from anywhere): bench/peer/setup.sh        then: bench/peer/.venv/bin/python bench/peer/run.py time
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv "$here/.venv"
fi
"$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
"$here/.venv/bin/python" "$here/run.py" seed "$@"
