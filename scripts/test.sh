#!/usr/bin/env bash
# Set up (if needed) and run the whole test-suite: unit tests plus integration tests with the real
# embedding model, real chroma, a real llama-server and a real headless browser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 ANONYMIZED_TELEMETRY=False
ruff check .
lint-imports
mypy assistant
python -m pytest -q "$@"
