"""Documents are data, never orders: sentences in a document that address the model ("忽略以上所有指令…") are kept out
of prompts (sanitize) and out of the quotes an answer shows (before_injection)."""

from __future__ import annotations

import re

from assistant.text import sentences

# Sentences in a document that address the model ("忽略以上所有指令", "ignore previous instructions", "你现在是…").
INJECTION = re.compile(
    r"(?:忽略|无视|忘记|忘掉|不要理会|不必遵守)掉?(?:以上|上述|之前|此前|前面|先前|上面|你的|系统的?|所有|全部|一切)"
    r"[^。！？\n]{0,6}(?:指令|指示|提示词?|设定|规则)"
    r"|ignore\s+(?:all\s+)?(?:the\s+)?(?:previous|above|prior|earlier)\s+(?:instructions?|prompts?|rules?)"
    r"|你现在(?:是|扮演|的身份)|(?:系统|system)\s*(?:提示|prompt)",
    re.I,
)
REDACTED = "〔此处是文件中的指令性文字，已略去〕"


def sanitize(text: str) -> str:
    """Documents are data: they cannot close the data block, and sentences that give the model orders are not shown.

    The full chunk text is still what citations are verified against.
    """
    text = text.replace("【资料结束】", "〔资料结束〕").replace("【资料】", "〔资料〕")
    for sent in sentences(text):
        if INJECTION.search(sent):
            text = text.replace(sent, REDACTED)
    return text


def before_injection(quote: str) -> str:
    """The quote up to the first sentence that gives orders (still a verbatim prefix of it); "" when it starts with one.

    An answer quotes a rule; an order planted in a document is not a rule, so it is neither shown nor cited."""
    for sent in sentences(quote):
        if INJECTION.search(sent):
            return quote[: quote.find(sent)].rstrip()
    return quote
