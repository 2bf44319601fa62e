"""The message catalogue: every key the code uses exists, its placeholders are filled, every text is Chinese with a
fix, and no English message reaches a user through an AssistantError."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from assistant.core.errors import AssistantError
from assistant.core.messages import MESSAGES, error, say

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"
CJK = re.compile(r"[\u4e00-\u9fff]")
RAISERS = {"AssistantError", "IngestError"}


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def _calls():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                yield path, node, name


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_is_chinese_and_every_error_has_a_fix(key):
    message, fix = MESSAGES[key]
    assert CJK.search(message), key
    assert key.startswith("note_") or fix.strip(), f"{key}: an error names its fix"


def test_every_key_used_exists_and_gets_its_placeholders():
    used = 0
    for path, node, name in _calls():
        if name not in ("error", "say", "text") or not node.args or not isinstance(node.args[0], ast.Constant):
            continue
        key = node.args[0].value
        if not isinstance(key, str) or path.name == "messages.py":
            continue
        assert key in MESSAGES, f"{path.relative_to(PACKAGE)}:{node.lineno}: unknown message key {key!r}"
        given = {k.arg for k in node.keywords}
        if None in given:  # **values: checked where it is built
            continue
        wanted = _fields(MESSAGES[key][0]) | _fields(MESSAGES[key][1])
        assert given == wanted, f"{path.relative_to(PACKAGE)}:{node.lineno}: {key} takes {sorted(wanted)}, got {sorted(given)}"
        used += 1
    assert used >= len(MESSAGES) // 2


def test_no_english_message_reaches_a_user_through_an_error():
    english = []
    for path, node, name in _calls():
        if name not in RAISERS:
            continue
        args = node.args[1:] if name == "IngestError" else node.args
        for arg in args[:2]:
            parts = [arg.value] if isinstance(arg, ast.Constant) else [v.value for v in getattr(arg, "values", []) if isinstance(v, ast.Constant)]
            literal = "".join(p for p in parts if isinstance(p, str))
            if literal.strip() and not CJK.search(literal):
                english.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {literal[:60]}")
    assert not english, "\n".join(english)


def test_error_and_say_fill_the_template():
    e = error("outline_file_missing", path="提纲.txt")
    assert isinstance(e, AssistantError) and "提纲.txt" in e.message and e.fix
    assert say("draft_no_out").startswith("没有给出输出文件 — 加上 --out")
