"""Turn a follow-up question into a standalone retrieval query. Only this query reaches retrieval; history never does.

Offline: a deterministic heuristic (pronoun substitution, ellipsis "那X呢", short questions get the previous topic).
With the LLM backend: a prompt from prompts/, checked, with the heuristic as fallback.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from assistant.core.errors import AssistantError
from assistant.core.protocols import ChatModel, History, Rewriter
from assistant.llm.prompts import load_prompt
from assistant.text import query_tokens, user_terms

_ROLES = {"user", "assistant", "system", "human", "ai"}
# A leading pronoun stands for the previous topic: 它的责任主体是谁 -> 一岗双责的责任主体是谁.
_LEAD_PRONOUN = re.compile(r"^(它们|它|这些|那些|这个|那个|这项|那项|这条|那条|该项|该条|此项|上述|以上|其|该|此|这|那)(?!么|样|里|时|次)")
# Ellipsis: 那监督责任呢？ keeps the previous question's aspect with a new subject.
_ELLIPSIS = re.compile(r"^(?:那么|那)?(.*?)呢\s*[？?。]?\s*$")
_ANAPHORA = ("它", "上述", "以上", "前者", "后者", "刚才", "上面", "前面", "这些", "那些", "这个", "那个", "这项", "该项", "该条", "其中", "还有", "另外")
_PUNCT = re.compile(r"[\s，。？！、；：,.?!;:]+")


@lru_cache(maxsize=1)
def _terms() -> frozenset[str]:
    return frozenset(t.lower() for t in user_terms())


def pairs(history: History) -> list[tuple[str, str]]:
    """(question, answer) turns from either (question, answer) pairs or (role, content) messages."""
    if history and all(len(h) == 2 and h[0] in _ROLES for h in history):
        out: list[tuple[str, str]] = []
        for role, content in history:
            if role in ("user", "human"):
                out.append((content, ""))
            elif role in ("assistant", "ai") and out:
                out[-1] = (out[-1][0], content)
        return out
    return [(str(q), str(a)) for q, a in history]


def is_follow_up(question: str) -> bool:
    q = _PUNCT.sub("", question)
    if not q:
        return False
    if _LEAD_PRONOUN.match(q) or _ELLIPSIS.match(question.strip()) or any(w in q for w in _ANAPHORA):
        return True
    toks = query_tokens(q)
    # Very short and naming no Party term: "具体呢" "为什么" "处分" need the previous topic.
    return len(toks) <= 1 and not any(t in _terms() for t in toks)


def heuristic_rewrite(question: str, history: History) -> str:
    """Deterministic rewrite used offline and as the LLM rewriter's fallback."""
    turns = pairs(history)
    if not turns or not is_follow_up(question):
        return question
    prev = heuristic_rewrite(turns[-1][0], turns[:-1])  # the previous question may itself be a follow-up
    prev_toks = list(query_tokens(prev))
    if not prev_toks:
        return question
    q = question.strip()
    topic = [t for t in prev_toks if t in _terms()] or prev_toks
    own = set(query_tokens(q))
    m = _ELLIPSIS.match(q)
    if m and m.group(1).strip() and own:
        # New subject, same aspect: drop the previous Party term the new one replaces.
        core = _PUNCT.sub("", m.group(1)) or m.group(1)
        replaces = any(t in _terms() for t in own)
        extra = [t for t in prev_toks if t not in own and not (replaces and t in _terms())]
        return " ".join([core, *extra])
    lead = _LEAD_PRONOUN.match(_PUNCT.sub("", q))
    if lead:
        return "".join(topic) + _PUNCT.sub("", q)[lead.end() :]
    extra = [t for t in prev_toks if t not in own]
    return " ".join([q, *extra])


def _short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "……"


_PREFIX = re.compile(r"^(?:改写后的(?:完整|独立)?问题|完整问题|独立问题|问题)\s*[:：]\s*")


class LLMRewriter:
    """Asks the chat model for a standalone question; a reply that loses the follow-up's own words is not trusted."""

    def __init__(self, chat: ChatModel, prompts_dir: Path, fallback: Rewriter = heuristic_rewrite, max_turns: int = 3, answer_chars: int = 120) -> None:
        self.chat = chat
        self.system = load_prompt(prompts_dir, "rewrite_system")
        self.user = load_prompt(prompts_dir, "rewrite_user")
        self.fallback = fallback
        self.max_turns = max_turns
        self.answer_chars = answer_chars

    def __call__(self, question: str, history: History) -> str:
        turns = pairs(history)
        # Every call costs seconds on a CPU model: only follow-ups are sent.
        if not turns or not is_follow_up(question):
            return question
        lines = []
        for q, a in turns[-self.max_turns :]:
            lines.append(f"问：{q}")
            if a:
                lines.append(f"答：{_short(a, self.answer_chars)}")
        prompt = self.user.format(history="\n".join(lines), question=question)
        try:
            reply = self.chat.complete([("system", self.system), ("user", prompt)])
        except AssistantError:
            return self.fallback(question, history)
        candidate = self.clean(reply)
        return candidate if self.acceptable(candidate, question) else self.fallback(question, history)

    @staticmethod
    def clean(reply: str) -> str:
        lines = [x.strip() for x in reply.strip().splitlines() if x.strip()]
        text = _PREFIX.sub("", lines[0]) if lines else ""
        return text.strip("\"'“”「」*` ")

    @staticmethod
    def acceptable(candidate: str, question: str) -> bool:
        if not candidate or len(candidate) > 160:
            return False
        own = [t for t in query_tokens(question) if t not in ("还有",)]
        if not own:
            return True
        cand = set(query_tokens(candidate))
        return sum(t in cand for t in own) * 2 >= len(own)


_DIGITS = re.compile(r"[0-9０-９一二三四五六七八九十百千两]+(?:个月|年|日|天|次|条|人)")


class RegulationRewriter:
    """Asks the chat model to restate a cadre's question in the regulations' own wording (收红包 → 收受礼金), for
    retrieval only. A reply is used only if it is one short line that asks rather than answers: no figure or period
    the question lacks (that would be the model guessing the answer), no citation markers."""

    def __init__(self, chat: ChatModel, prompts_dir: Path, max_chars: int = 80) -> None:
        self.chat = chat
        self.system = load_prompt(prompts_dir, "reword_system")
        self.user = load_prompt(prompts_dir, "reword_user")
        self.max_chars = max_chars
        self._cached = lru_cache(maxsize=1024)(self._reword)  # one model call per question, however often it is searched

    def __call__(self, question: str) -> str:
        return self._cached(question)

    def _reword(self, question: str) -> str:
        try:
            reply = self.chat.complete([("system", self.system), ("user", self.user.format(question=question))])
        except AssistantError:
            return ""
        candidate = LLMRewriter.clean(reply)
        return candidate if self.acceptable(candidate, question) else ""

    def acceptable(self, candidate: str, question: str) -> bool:
        if not candidate or len(candidate) > self.max_chars or "[" in candidate or candidate == question.strip():
            return False
        if not re.search(r"[\u4e00-\u9fff]", candidate):
            return False
        return all(m.group(0) in question for m in _DIGITS.finditer(candidate))
