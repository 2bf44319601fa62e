"""Prompt templates: UTF-8 files in prompts/, read by name."""

from __future__ import annotations

from pathlib import Path

from assistant.core.errors import AssistantError


def load_prompt(prompts_dir: Path, name: str) -> str:
    path = Path(prompts_dir) / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise AssistantError(f"prompt file {path} is missing", "restore it from the repository or set ASSISTANT_PROMPTS_DIR") from e
