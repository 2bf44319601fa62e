"""Word auto-numbering: the text Word shows before a numbered paragraph (第一条, 一、, （一）, 1.),
rebuilt from numbering.xml (numId → abstractNum → lvl: numFmt, lvlText, start) with one counter per list."""

from __future__ import annotations

import re

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DIGITS = "零一二三四五六七八九"


def chinese_counting(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五 (Word's chineseCounting)."""
    if n <= 0:
        return str(n)
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _DIGITS[n // 10] + "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        head = _DIGITS[n // 100] + "百"
        if rest == 0:
            return head
        if rest < 10:
            return head + "零" + _DIGITS[rest]
        tail = chinese_counting(rest)
        return head + ("一" + tail if rest < 20 else tail)
    return str(n)


def format_number(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "ideographTraditional", "taiwaneseCounting"):
        return chinese_counting(n)
    if fmt == "upperLetter":
        return chr(ord("A") + (n - 1) % 26)
    if fmt == "lowerLetter":
        return chr(ord("a") + (n - 1) % 26)
    if fmt == "decimalEnclosedCircle" or fmt == "decimalEnclosedCircleChinese":
        return chr(0x2460 + n - 1) if 1 <= n <= 20 else str(n)
    if fmt == "none":
        return ""
    return str(n)


class Numbering:
    """Counters for one document; `prefix(paragraph_element)` returns the label ('' when not numbered)."""

    def __init__(self, numbering_element) -> None:
        self.levels: dict[str, dict[int, tuple[str, str, int]]] = {}
        self.num_to_abstract: dict[str, str] = {}
        self.overrides: dict[str, dict[int, int]] = {}
        self.counters: dict[str, dict[int, int]] = {}
        if numbering_element is None:
            return
        for a in numbering_element.findall(f"{W}abstractNum"):
            aid = a.get(f"{W}abstractNumId", "")
            levels = {}
            for lvl in a.findall(f"{W}lvl"):
                ilvl = int(lvl.get(f"{W}ilvl", "0"))
                fmt = _val(lvl.find(f"{W}numFmt")) or "decimal"
                text = _val(lvl.find(f"{W}lvlText")) or ""
                start = int(_val(lvl.find(f"{W}start")) or "1")
                levels[ilvl] = (fmt, text, start)
            self.levels[aid] = levels
        for num in numbering_element.findall(f"{W}num"):
            nid = num.get(f"{W}numId", "")
            self.num_to_abstract[nid] = _val(num.find(f"{W}abstractNumId")) or ""
            for ov in num.findall(f"{W}lvlOverride"):
                start = ov.find(f"{W}startOverride")
                if start is not None:
                    self.overrides.setdefault(nid, {})[int(ov.get(f"{W}ilvl", "0"))] = int(_val(start) or "1")

    def prefix(self, p, style_element=None) -> str:
        num_pr = p.find(f"{W}pPr/{W}numPr")
        if num_pr is None and style_element is not None:
            num_pr = style_element.find(f"{W}pPr/{W}numPr")
        if num_pr is None:
            return ""
        nid = _val(num_pr.find(f"{W}numId")) or ""
        ilvl = int(_val(num_pr.find(f"{W}ilvl")) or "0")
        levels = self.levels.get(self.num_to_abstract.get(nid, ""))
        if nid in ("", "0") or not levels or ilvl not in levels:
            return ""
        # Lists sharing an abstractNum continue one another's count, as Word does for plain numIds.
        key = self.num_to_abstract[nid]
        counters = self.counters.setdefault(key, {})
        if ilvl not in counters:
            counters[ilvl] = self.overrides.get(nid, {}).get(ilvl, levels[ilvl][2])
        else:
            counters[ilvl] += 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        fmt, text, _ = levels[ilvl]

        def sub(m: re.Match) -> str:
            k = int(m.group(1)) - 1
            if k not in levels:
                return ""
            value = counters.get(k, levels[k][2])
            return format_number(value, levels[k][0])

        return re.sub(r"%(\d)", sub, text)


def _val(el) -> str | None:
    return None if el is None else el.get(f"{W}val")
