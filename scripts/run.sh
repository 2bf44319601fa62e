#!/usr/bin/env bash
# Set up (if needed), build or update the index of knowledge/ (or $ASSISTANT_KNOWLEDGE_DIR), and open the chat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec assistant serve "$@"
