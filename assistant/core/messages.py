"""The message catalogue: every message a user sees, in Chinese, each error with its fix.

Code raises ``error("key", name=value)`` (an AssistantError) or shows ``say("key", …)``; logs stay in English.
A key's text may use {placeholders}; tests check that every key used in the code is defined here, that each
text is Chinese, and that each error names its fix.
"""

from __future__ import annotations

from assistant.core.errors import AssistantError

# key: (what went wrong, the fix). An empty fix is allowed only for notices (say), never for errors.
MESSAGES: dict[str, tuple[str, str]] = {
    # ---------------------------------------------------------------- settings and setup
    "unknown_answerer": ("未知的回答方式 ASSISTANT_ANSWERER={value!r}", "改为 extractive 或 llm"),
    "prompt_missing": ("提示词文件 {path} 缺失", "从代码仓库恢复 prompts/ 目录，或设置 ASSISTANT_PROMPTS_DIR 指向它"),
    # ---------------------------------------------------------------- index and knowledge base
    "no_index": ("知识库“{kb}”还没有索引（{path}）", "先运行 `assistant ingest`，或在网页“知识库”页上传文件"),
    "index_missing_for_gold": ("{path} 下没有索引，无法核对标准出处", "先运行 `assistant ingest`"),
    # ---------------------------------------------------------------- evaluation
    "gate_on_heldout": ("答题门槛从不在保留集（held-out）上拟合", "只用开发集拟合，再用 `assistant eval` 在保留集上检验"),
    "fit_gate_needs_sets": ("`assistant eval fit-gate` 需要开发集", "assistant eval fit-gate evals/sets/dev.jsonl,evals/sets/dev_colloquial.jsonl"),
    # ---------------------------------------------------------------- drafting
    "draft_no_topic": ("没有给出主题", '加上 --topic "二、强化责任落实，扛牢全面从严治党主体责任"'),
    "draft_no_out": ("没有给出输出文件", "加上 --out 草稿.docx（或 --out 草稿.md）"),
    "outline_file_missing": ("提纲文件 {path} 不存在", "先用 --outline-only > 提纲.txt 生成一份"),
}


def text(key: str, **values: object) -> tuple[str, str]:
    """(message, fix) of ``key`` with its placeholders filled."""
    message, fix = MESSAGES[key]
    return message.format(**values), fix.format(**values)


def error(key: str, **values: object) -> AssistantError:
    """The AssistantError of ``key``: raise error("no_index", kb=…, path=…)."""
    return AssistantError(*text(key, **values))


def say(key: str, **values: object) -> str:
    """A notice shown to the user as one line (message, then the fix when there is one)."""
    message, fix = text(key, **values)
    return f"{message} — {fix}" if fix else message
