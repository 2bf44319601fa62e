"""How alike two Chinese texts are: content-word overlap (jieba tokens) and character pairs, which survive jieba
cutting a word differently. Used by verification, drafting, version alignment and the drafting evaluation."""

from __future__ import annotations

import re
from collections import Counter

from assistant.core.types import MARKER
from assistant.text.tokens import query_tokens

_NOT_WORD = re.compile(r"[^\u4e00-\u9fffA-Za-z0-9]+")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


def overlap(claim: str, passage: str) -> float:
    """Share of the claim's content tokens (citation markers aside) that occur in the passage."""
    toks = query_tokens(MARKER.sub("", claim))
    if not toks:
        return 0.0
    ptoks = set(query_tokens(passage))
    return sum(1 for t in toks if t in ptoks) / len(toks)


def char_pairs(text: str) -> set[str]:
    """Adjacent character pairs within words (letters, digits, CJK), punctuation and spaces breaking them."""
    t = _NOT_WORD.sub(" ", text)
    return {a + b for a, b in zip(t, t[1:]) if a != " " and b != " "}


def bigram_share(query: str, text: str) -> float:
    """Share of the query's character pairs found in the text."""
    q = char_pairs(query)
    return len(q & char_pairs(text)) / len(q) if q else 0.0


def bigram_counts(text: str, cjk_only: bool = False) -> Counter[str]:
    """Counts of adjacent character pairs (whitespace removed); with ``cjk_only`` only pairs inside CJK runs."""
    runs = _CJK_RUN.findall(text) if cjk_only else [re.sub(r"\s", "", text)]
    return Counter(run[i : i + 2] for run in runs for i in range(len(run) - 1))


def dice(a: str, b: str) -> float:
    """Dice coefficient of the two texts' character-pair multisets (1.0 for two empty or equal short texts)."""
    ga, gb = bigram_counts(a), bigram_counts(b)
    total = sum(ga.values()) + sum(gb.values())
    if not total:
        return 1.0 if a == b else 0.0
    return 2 * sum((ga & gb).values()) / total


def cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    norm = (sum(v * v for v in a.values()) * sum(v * v for v in b.values())) ** 0.5
    return dot / norm if norm else 0.0
