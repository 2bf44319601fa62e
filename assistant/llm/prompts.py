"""Prompt templates: UTF-8 files in prompts/, read by name."""

from __future__ import annotations

from pathlib import Path

from assistant.core.messages import error


def load_prompt(prompts_dir: Path, name: str) -> str:
    path = Path(prompts_dir) / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise error("prompt_missing", path=path) from e
