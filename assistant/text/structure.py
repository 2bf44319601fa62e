"""Recognizers for Chinese document structure: 编/章/节/条, 一、/（一）/1./一是 headings, numerals."""

from __future__ import annotations

import re

CN_NUM = "零〇一二三四五六七八九十百千两"  # article, chapter and heading numbers
CN_SMALL = "一二三四五六七八九十"  # the numbers of items and enumerations: 一、 （一） 一是
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}


def cn_to_int(s: str) -> int:
    """'一百二十三' -> 123, '十五' -> 15, '一万零五' -> 10005, '42' -> 42."""
    if s.isdigit():
        return int(s)
    total, section, num = 0, 0, 0
    for ch in s:
        if ch in _DIGITS:
            num = _DIGITS[ch]
        elif ch in _UNITS:
            section += (num or 1) * _UNITS[ch]
            num = 0
        elif ch in _BIG_UNITS:
            total = (total + section + num) * _BIG_UNITS[ch] if ch == "亿" else total + (section + num) * _BIG_UNITS[ch]
            section, num = 0, 0
        else:
            raise ValueError(f"not a Chinese numeral: {s}")
    return total + section + num


def _below_10000(n: int) -> str:
    digits = "零一二三四五六七八九"
    out = ""
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, unit_value)
        if q:
            out += digits[q] + unit
        elif out and n:
            out += "零" if not out.endswith("零") else ""
    if n:
        out += digits[n]
    return out.rstrip("零")


def int_to_cn(n: int) -> str:
    """123 -> '一百二十三', 10005 -> '一万零五' (the form used in 第N条); any non-negative int."""
    if n < 0:
        raise ValueError(f"negative number: {n}")
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    for big, unit in ((10**8, "亿"), (10**4, "万")):
        if n >= big:
            head, rest = divmod(n, big)
            tail = int_to_cn(rest) if rest >= 10 else (digits[rest] if rest else "")
            if 10 <= rest < 20:
                tail = "一" + tail  # 一万零一十五, not 一万零十五
            return int_to_cn(head) + unit + ("零" if rest and rest < big // 10 else "") + tail
    return _below_10000(n)


# 第N条 at line start; the text may follow on the same line with or without a space.
ARTICLE = re.compile(rf"^第([{CN_NUM}\d]+)条(之[{CN_NUM}]+)?(?:[ 　:：]+|(?=[^ 　]))(.*)$")
# 第N编/章/节 + title; "## " markdown markers optional.
DIVISION = re.compile(rf"^(?:#+ *)?(第[{CN_NUM}\d]+(编|章|节))(?:[ 　]*)(.*)$")
MD_HEADING = re.compile(r"^(#{1,6}) +(.+)$")
ITEM = re.compile(rf"^（([{CN_NUM}]+)）")
# Report hierarchy: 一、 / （一） / 1. or 1、 / (1)
H1 = re.compile(rf"^([{CN_NUM}]+)、")
H2 = re.compile(rf"^（([{CN_NUM}]+)）")
H3 = re.compile(r"^(\d+)[\.、．]")
ENUM_ITEM = re.compile(rf"([{CN_NUM}]+)是(?=[^\s，,。])")
DIV_LEVEL = {"编": 1, "章": 2, "节": 3}


# A question after the kinds, ways or items of something (有哪几种处分, 问责方式有哪些, 哪几档): its answer is usually
# the provision that lists them, （一）（二）（三）….
LIST_QUESTION = re.compile(r"哪几|哪些|几种|几类|几档|有什么(?:方式|形式|种类|措施|办法)")
_ITEM_ANYWHERE = re.compile(rf"（([{CN_NUM}]+)）")


def asks_for_list(question: str) -> bool:
    """Whether a question asks for the kinds, ways or items of something."""
    return bool(LIST_QUESTION.search(question))


def listed_items(text: str) -> int:
    """How many items a provision enumerates: the run （一）（二）（三）… counted from （一）."""
    seen = set()
    for m in _ITEM_ANYWHERE.finditer(text):
        try:
            seen.add(cn_to_int(m.group(1)))
        except ValueError:
            continue
    n = 0
    while n + 1 in seen:
        n += 1
    return n


def article_label(num: int, suffix: str = "") -> str:
    return f"第{int_to_cn(num)}条{suffix}"


def split_enumeration(paragraph: str) -> list[str]:
    """Split '一是……；二是……' into items. Returns [paragraph] when there is no 一是…二是 sequence."""
    starts = []
    expect = 1
    for m in ENUM_ITEM.finditer(paragraph):
        try:
            n = cn_to_int(m.group(1))
        except ValueError:
            continue
        if n == expect:
            starts.append(m.start())
            expect += 1
    if len(starts) < 2:
        return [paragraph]
    pieces = [paragraph[: starts[0]]] if starts[0] > 0 else []
    bounds = starts + [len(paragraph)]
    pieces += [paragraph[a:b] for a, b in zip(bounds, bounds[1:])]
    return [p for p in (x.strip() for x in pieces) if p]
