"""Search tokens: jieba with the Party-term dictionary, stop words and question words removed."""

from __future__ import annotations

import logging
import re
import sys
import threading
from functools import lru_cache
from typing import Any

from assistant.core.resources import RESOURCES
from assistant.text.normalize import _CJK, normalize, squeeze_cjk_spaces

USER_DICT = RESOURCES / "party_terms.txt"

_STOP = set(
    ["的", "了", "和", "与", "及", "或", "等", "在", "是", "对", "为", "以", "于", "把", "被", "将", "由", "从", "向", "并", "而", "其", "之", "也", "就", "都", "要", "我", "你", "他", "她", "它", "我们", "什么", "怎么", "如何", "哪些", "吗", "呢", "吧", "啊", "么", "有", "没有", "这", "那", "这个", "那个", "一个", "可以", "应当", "应该", "需要", "要求", "规定", "问题", "请问", "请", "做", "些", "中", "上", "下", "对于", "关于"]
)
# Question words ask for the answer and are never in it (a rule says 三个月, not 多长时间).
_STOP |= set(
    "多长时间 多久 多少 多少岁 多少天 多少年 几 几种 几类 几个 哪几种 哪几类 哪几个 哪几 哪种 哪类 哪个 哪 谁 怎样 怎么样 怎么办 "
    "为什么 为何 是否 能否 可否 何时 什么时候 时候 什么样 情况下 情况 咋 多大".split()
)
_KEEP = re.compile(rf"[{_CJK}A-Za-z0-9]")


class _Jieba:
    """One jieba tokenizer with the Party-term dictionary, built lazily and thread-safely."""

    _lock = threading.Lock()
    _tok: Any = None  # jieba.Tokenizer (jieba has no type hints)

    @classmethod
    def get(cls) -> Any:
        with cls._lock:
            if cls._tok is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.load_userdict(str(USER_DICT))
                cls._tok = tok
            return cls._tok


def jieba_tokenizer() -> Any:
    """The shared jieba tokenizer with the Party-term dictionary loaded."""
    return _Jieba.get()


def user_terms() -> list[str]:
    return [line.split()[0] for line in USER_DICT.read_text(encoding="utf-8").splitlines() if line.strip()]


def tokenize(text: str, *, keep_stop: bool = False) -> list[str]:
    """Search tokens: jieba words (Party terms kept whole) minus punctuation and stop words."""
    tok = _Jieba.get()
    words = tok.lcut(squeeze_cjk_spaces(text))
    out = []
    for w in words:
        w = w.strip().lower()
        if not w or not _KEEP.search(w):
            continue
        if not keep_stop and w in _STOP:
            continue
        out.append(sys.intern(w))  # one string per word across all chunks: at 1M chunks copies cost gigabytes
    return out


@lru_cache(maxsize=4096)
def query_tokens(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tokenize(normalize(text))))
