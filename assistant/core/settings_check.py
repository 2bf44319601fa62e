"""Settings problems in words a user can act on: which setting, which value, what is allowed, where it was set.

``setting_error`` turns pydantic's ValidationError into one AssistantError line; ``unknown_settings`` names
ASSISTANT_* variables and TOML keys that no setting reads, with the nearest valid name.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr, ValidationError

from assistant.core.errors import AssistantError
from assistant.core.settings import Settings, _toml_path

PREFIX = "ASSISTANT_"
# Variables with the prefix that are read by something other than Settings.
OTHER_VARIABLES = {
    "ASSISTANT_CONFIG": "the TOML file",
    "ASSISTANT_TEST_CORPUS": "tests: the shared corpus",
    "ASSISTANT_TORCH_INDEX_URL": "scripts/setup.sh: the wheel index for a CPU torch",
}

TYPE_WORDS: dict[type, str] = {int: "整数", float: "数字", bool: "true 或 false", str: "文字", Path: "路径", SecretStr: "文字"}


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def allowed_values(field: str) -> str:
    """'bm25、vector、hybrid' for a Literal, else the kind of value ('整数')."""
    info = Settings.model_fields.get(field)
    if info is None:
        return ""
    ann = info.annotation
    if typing.get_origin(ann) is typing.Literal:
        return "、".join(str(a) for a in typing.get_args(ann))
    words = TYPE_WORDS.get(ann) if isinstance(ann, type) else None
    return words or str(getattr(ann, "__name__", ann))


def _toml_data(path: Path | None) -> dict[str, object]:
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}  # Settings() reports an unreadable file itself


def _where(field: str, environ: Mapping[str, str], toml_path: Path | None, toml: Mapping[str, object]) -> str:
    if env_name(field) in environ:
        return f"环境变量 {env_name(field)}"
    if field in toml:
        return f"{toml_path} 中的 {field}"
    return f"命令行选项 --{field.replace('_', '-')}"


def setting_error(e: ValidationError, environ: Mapping[str, str] | None = None) -> AssistantError:
    """One line for the first bad setting (and how many more there are)."""
    environ = os.environ if environ is None else environ
    try:
        toml_path = _toml_path()
    except AssistantError:
        toml_path = None
    toml = _toml_data(toml_path)
    errors = e.errors(include_url=False)
    parts = []
    fixes = []
    for err in errors:
        field = str(err["loc"][0]) if err.get("loc") else "?"
        value = err.get("input")
        if isinstance(value, dict):  # a whole-model error: no single value to show
            value = "…"
        allowed = allowed_values(field) or "见 README 的 Settings"
        where = _where(field, environ, toml_path, toml)
        parts.append(f"设置 {field}（{where}）的值 {str(value)!r} 无效，可用的值：{allowed}")
        fixes.append(f"改正 {where}")
    message = "；".join(parts)
    return AssistantError(message, "，".join(dict.fromkeys(fixes)) + "；`assistant config` 显示生效的设置")


def _nearest(name: str, candidates: list[str]) -> str:
    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    return found[0] if found else ""


def unknown_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per ASSISTANT_* variable or TOML key that no setting reads, with the nearest valid name."""
    environ = os.environ if environ is None else environ
    fields = sorted(Settings.model_fields)
    names = [env_name(f) for f in fields]
    out = []
    for var in sorted(environ):
        if not var.startswith(PREFIX) or var in OTHER_VARIABLES or var.lower()[len(PREFIX):] in Settings.model_fields:
            continue
        near = _nearest(var, names + list(OTHER_VARIABLES))
        hint = f"是不是 {near}？" if near else "`assistant config` 列出全部设置"
        out.append(f"未知的环境变量 {var}，没有设置读取它 — {hint}")
    try:
        toml_path = _toml_path()
    except AssistantError:
        return out  # Settings() reports the missing file
    for key in sorted(_toml_data(toml_path)):
        if key in Settings.model_fields:
            continue
        near = _nearest(key, fields)
        hint = f"是不是 {near}？" if near else "`assistant config` 列出全部设置"
        out.append(f"配置文件 {toml_path} 中的未知设置 {key}，已忽略 — {hint}")
    return out
