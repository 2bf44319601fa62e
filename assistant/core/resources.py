"""Where the package's data files live (dictionary, thesaurus, gate, reranker, versions) and the project root."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent.parent
RESOURCES = PACKAGE / "resources"
# Prompts, evals/sets and knowledge/ sit beside the package in a checkout (the install is editable).
PROJECT_ROOT = PACKAGE.parent


def load_fitted(path: Path, key: str) -> dict[str, Any] | None:
    """One fitted model's fields (JSON lists as tuples) from a file of models keyed by mode/embedder, or None."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text("utf-8")).get("models", {}).get(key)
    if not data:
        return None
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return fields


def save_fitted(path: Path, key: str, fields: Mapping[str, Any], comment: str) -> None:
    """Store one fitted model's fields under ``key``, keeping the file's other models."""
    data = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    data.setdefault("_comment", comment)
    data.setdefault("models", {})[key] = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", "utf-8")
