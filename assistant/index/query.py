"""Query understanding: what a cadre typed → what the regulations say.

A question in everyday words (收红包怎么处分, 一把手要干啥, What is liuzhi?) shares few words with the article that
answers it. The analyzer turns it into a QueryPlan:
- thesaurus matches add the corpus wording (收受礼金) as extra search terms and as a reworded query for the dense model;
- a word the index has never seen is corrected to an index word that sounds the same (流置 → 留置, 问则 → 问责);
- 第N条 with a document name (纪律处分条例第八十八条) is resolved to that article directly.
Each concept of the question becomes a token group; coverage counts a group as found when any of its tokens is,
so 收红包 is covered by a chunk saying 礼金.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.text import jieba_tokenizer, normalize, query_tokens, squeeze_cjk_spaces
from assistant.text.structure import CN_NUM, asks_for_list
from assistant.text.thesaurus import Thesaurus

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,}")
_ARTICLE_REF = re.compile(rf"第\s*([{CN_NUM}两\d]{{1,7}})\s*条")
# A document the question names: 《…》, or a name ending in 条例/准则/细则/办法 (规定 only after a long name: "有关规定"
# names nothing).
_DOC_NAME = re.compile(
    r"《([^》]{2,40})》|([\u4e00-\u9fff（）]{2,24}?(?:条例|准则|细则|办法))|([\u4e00-\u9fff（）]{5,24}?规定)"
    r"|([\u4e00-\u9fff]{1,10}?(?<![方做说看合违依执司立守非用想手写算办宪])法)(?!律|规(?!定)|定|院|官|人|治)"
)
# What the user says before a name ("按照支部工作条例", "我们单位根据…") is cut off; a "name" that asks or acts
# ("公务员任职回避有哪些规定") is a sentence, not a document.
_LEAD_IN = re.compile(r"^(?:.*(?:按照|根据|依照|依据|里的|中的|年版|年))?(?:按|据|在|看|查|问|说)?")
_NOT_A_NAME = re.compile(r"什么|哪些|哪|怎么|怎样|如何|是否|有没有|吗|违反|违背|做了|有关规定$|相关规定$")
_GENERIC_DOC = {"条例", "准则", "细则", "办法", "党纪条例", "党内条例", "党内法规", "这个条例", "那个条例", "新条例", "老条例"}
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年?(?:版|修订|修正|修改|新)?")
_DOC_PREFIX = re.compile(r"^(?:中国共产党|中华人民共和国|关于)")
_DOC_SUFFIX = re.compile(r"[（(]试行[）)]$")
# The two regimes a cadre most often asks about side by side (党纪和政务处分各怎么定): Party discipline and the state
# sanctions for public officials. Each maps to the title its answer is in.
_REGIMES = (
    (re.compile(r"党纪|党内|党籍|纪律处分"), "中国共产党纪律处分条例"),
    (re.compile(r"政务|公职"), "中华人民共和国公职人员政务处分法"),
)
_FOREIGN = re.compile(r"[a-z][a-z'\-]+")
_ASCII_RUN = re.compile(r"[A-Za-z][A-Za-z'\-]*")


@dataclass(frozen=True)
class QueryPlan:
    """How one question is searched. ``groups`` are the question's concepts, each a set of interchangeable tokens."""

    question: str
    tokens: tuple[str, ...]  # BM25 tokens of the (typo-corrected) question
    expansion: tuple[str, ...] = ()  # tokens of the thesaurus' corpus wording, not already in ``tokens``
    variants: tuple[str, ...] = ()  # extra texts for the dense model (reworded, corrected)
    groups: tuple[frozenset[str], ...] = ()
    matched: tuple[tuple[str, str], ...] = ()  # (what the user wrote, corpus wording) for explanations
    corrections: tuple[tuple[str, str], ...] = ()  # (typed, corrected)
    articles: tuple[tuple[str, str], ...] = ()  # (document title or "", 第N条)
    missing: tuple[str, ...] = ()  # documents or versions the question names that the knowledge base does not hold
    sides: tuple[frozenset[str], ...] = ()  # two or more documents (title sets) the question asks about together
    wants_list: bool = False  # the question asks for kinds, ways or items (有哪几种, 哪些方式)
    notes: tuple[str, ...] = field(default=())

    @property
    def expanded(self) -> bool:
        return bool(self.matched or self.corrections)


def _fuzzy(syllable: str) -> str:
    """Fold the initials and finals that speakers of many dialects (and IMEs) confuse: zh/z, ch/c, sh/s, n/l, -ng/-n."""
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if syllable.startswith(a):
            syllable = b + syllable[len(a) :]
    if syllable.startswith("n"):
        syllable = "l" + syllable[1:]
    if syllable.endswith("ng") and len(syllable) > 2:
        syllable = syllable[:-1]
    return syllable


def pinyin_key(word: str, fuzzy: bool = False) -> str:
    from pypinyin import lazy_pinyin

    syllables = lazy_pinyin(word)
    return " ".join(_fuzzy(s) for s in syllables) if fuzzy else " ".join(syllables)


def _cn_article(num: str) -> str:
    if num.isdigit():
        from assistant.text.structure import int_to_cn

        return f"第{int_to_cn(int(num))}条"
    return f"第{num.replace('两', '二')}条"


def doc_aliases(title: str) -> set[str]:
    """Names a user calls a document by: the title, without 中国共产党/中华人民共和国/（试行）, and its tail
    (纪律处分条例, 监察法)."""
    names = {title}
    short = _DOC_SUFFIX.sub("", _DOC_PREFIX.sub("", title))
    names.add(short)
    for prefix in ("中国共产党", "公职人员", "行政机关", "党委（党组）"):
        if short.startswith(prefix):
            names.add(short[len(prefix) :])
    return {n for n in names if len(n) >= 3}


class Analyzer:
    """Builds QueryPlans against one index: its vocabulary decides what needs correcting or expanding."""

    def __init__(
        self,
        thesaurus: Thesaurus,
        vocab: dict[str, int] | set[str],
        idf: dict[str, float],
        titles: Sequence[str] = (),
        texts: Sequence[str] = (),
        versions: dict[str, set[str]] | None = None,
    ) -> None:
        self.thesaurus = thesaurus
        self.texts = texts  # chunk texts: a term the documents themselves use needs no translation
        self.titles = set(titles)
        self.versions = versions or {}  # title -> years held
        self.vocab = set(vocab)
        self.idf = idf
        self._by_sound: dict[bool, dict[str, list[str]]] = {}
        self._in_corpus: dict[str, bool] = {}
        aliases: dict[str, set[str]] = {}
        for t in set(titles):
            for a in doc_aliases(t):
                aliases.setdefault(a, set()).add(t)
        for term, canon in thesaurus.entries.items():  # 党章 → 中国共产党章程
            for c in canon:
                if c in titles:
                    aliases.setdefault(term, set()).add(c)
        self.doc_aliases = aliases
        self._alias_re = re.compile("|".join(map(re.escape, sorted(aliases, key=len, reverse=True)))) if aliases else None
        self.plan = lru_cache(maxsize=2048)(self._plan)

    # ------------------------------------------------------------ typos and near-homophones

    def _sound_index(self, fuzzy: bool) -> dict[str, list[str]]:
        """Index words of 2–4 Chinese characters by their pinyin (exact or fuzzy), the commonest spelling first."""
        if fuzzy not in self._by_sound:
            by: dict[str, list[str]] = {}
            for w in self.vocab:
                if 2 <= len(w) <= 4 and _CJK_RUN.fullmatch(w):
                    by.setdefault(pinyin_key(w, fuzzy), []).append(w)
            for words in by.values():
                words.sort(key=lambda w: self.idf.get(w, 0.0))
            self._by_sound[fuzzy] = by
        return self._by_sound[fuzzy]

    def corrections(self, text: str) -> list[tuple[str, str]]:
        """Stretches of 2–4 characters that are neither an index word nor a dictionary word but sound like an
        index word: 流置 → 留置, 警诰 → 警告. Real words are never changed, and a stretch never cuts a word
        (影响期 is not read as 影 + 响期)."""
        tok = jieba_tokenizer()
        found: list[tuple[str, str]] = []
        for run in _CJK_RUN.finditer(text):
            s = run.group(0)
            # Without HMM jieba breaks a word it does not know into single characters: a typo shows as a run of
            # them (流 置, 涵 询). A window must hold such a pair and must not cut a known word.
            bounds = {0}
            singles: set[int] = set()  # start of a single-character token followed by another
            pos = 0
            words = tok.lcut(s, HMM=False)
            for w, nxt in zip(words, [*words[1:], ""]):
                if len(w) == 1 and len(nxt) == 1:
                    singles.add(pos)
                pos += len(w)
                bounds.add(pos)
            i = 0
            while i < len(s) - 1:
                done = False
                for n in (4, 3, 2):
                    window = s[i : i + n]
                    if len(window) < n or i not in bounds or i + n not in bounds:
                        continue
                    if not any(j in singles for j in range(i, i + n - 1)):
                        continue
                    if window in self.vocab or tok.FREQ.get(window):
                        continue
                    # Fuzzy initials/finals (zh/z, n/l, -ng/-n) only for 3–4 characters: on two they find real words.
                    cands = self._sound_index(fuzzy=n > 2).get(pinyin_key(window, fuzzy=n > 2), [])
                    cands = [c for c in cands if sum(a != b for a, b in zip(c, window)) <= max(1, n // 2)]
                    if cands:
                        found.append((window, cands[0]))
                        i += n
                        done = True
                        break
                if not done:
                    i += 1
        return found

    def in_corpus(self, term: str) -> bool:
        """Whether the documents use the term themselves (一岗双责, 三会一课): then the question already has the corpus
        wording, and expanding it only adds noise (dev hit@1 0.813 → 0.780 when such terms were expanded)."""
        if term not in self._in_corpus:
            self._in_corpus[term] = any(term in t for t in self.texts)
        return self._in_corpus[term]

    # ------------------------------------------------------------ the plan

    def _plan(self, question: str, extra: tuple[str, ...] = ()) -> QueryPlan:
        """``extra``: rewordings from elsewhere (the LLM's regulation wording); searched as variants and expansion."""
        text = squeeze_cjk_spaces(normalize(question))
        notes: list[str] = []
        fixes = self.corrections(text)
        corrected = text
        for typed, right in fixes:
            corrected = corrected.replace(typed, right)
        matches = self.thesaurus.matches(corrected)
        tokens = query_tokens(corrected)
        groups: list[frozenset[str]] = []
        in_spans: set[str] = set()
        expansion: list[str] = []
        matched: list[tuple[str, str]] = []
        matches = [m for m in matches if not self.in_corpus(m.term)]
        for m in matches:
            span_toks = set(query_tokens(m.term))
            canon_toks: set[str] = set()
            for c in m.canon:
                canon_toks.update(query_tokens(c))
                if c.lower() in self.vocab:
                    canon_toks.add(c.lower())
            canon_toks &= self.vocab
            if not canon_toks:
                continue
            in_spans |= span_toks
            groups.append(frozenset(span_toks | canon_toks))
            expansion.extend(t for t in canon_toks if t not in tokens)
            matched.append((m.term, "|".join(m.canon)))
        for t in tokens:
            if t not in in_spans:
                groups.append(frozenset({t}))
        variants: list[str] = []
        if corrected != text:
            variants.append(corrected)
        reworded = corrected
        if matched:
            offset = 0
            for m in matches:
                if not any(m.term == a for a, _ in matched):
                    continue
                rep = m.canon[0]
                reworded = reworded[: m.start + offset] + rep + reworded[m.end + offset :]
                offset += len(rep) - (m.end - m.start)
            variants.append(reworded)
        # English words neither the index nor the thesaurus knows pull the dense similarity of every article down
        # (dev_mixed without its English entries: 10 of 15 refused, 5 with a variant without them); the question
        # without them is searched too. They stay in the BM25 tokens and the concept groups (dropping them there cost
        # a hit and a correct refusal).
        foreign = {t for t in tokens if t not in in_spans and t not in self.vocab and _FOREIGN.fullmatch(t)}
        if foreign:
            stripped = _ASCII_RUN.sub(lambda m: "" if m.group(0).lower() in foreign else m.group(0), reworded)
            stripped = squeeze_cjk_spaces(stripped).strip()
            if stripped and stripped != reworded:
                variants.append(stripped)
        for e in extra:
            e = squeeze_cjk_spaces(normalize(e))
            if e and e != text:
                variants.append(e)
                expansion.extend(t for t in query_tokens(e) if t in self.vocab and t not in tokens)
        articles = self._articles(corrected)
        sides = self.sides(corrected)
        missing = self.missing(corrected)
        if missing:
            notes.append("知识库中没有：" + "、".join(missing))
        if fixes:
            notes.append("按读音更正：" + "，".join(f"{a}→{b}" for a, b in fixes))
        if matched:
            notes.append("按同义词表理解：" + "，".join(f"{a}→{b.split('|')[0]}" for a, b in matched))
        if extra:
            notes.append("按条文用语改写：" + "；".join(extra))
        return QueryPlan(
            question=question,
            tokens=tokens,
            expansion=tuple(dict.fromkeys(expansion)),
            variants=tuple(dict.fromkeys(v for v in variants if v != text)),
            groups=tuple(dict.fromkeys(groups)),
            matched=tuple(matched),
            corrections=tuple(fixes),
            articles=articles,
            missing=missing,
            sides=sides,
            wants_list=asks_for_list(corrected),
            notes=tuple(notes),
        )

    def known_doc(self, name: str) -> bool:
        """Whether a document name the user typed is one the knowledge base holds (by title, alias or thesaurus)."""
        name = _DOC_SUFFIX.sub("", name.strip())
        if name in self.doc_aliases or any(name in t for t in self.titles):
            return True
        return any(alias in name and len(alias) >= 3 for alias in self.doc_aliases)

    def missing(self, text: str) -> tuple[str, ...]:
        """Documents and versions the question names that are not in the knowledge base: 《党内监督条例》, 2022年党章.
        An answer from a neighbouring document or an older version would be confidently wrong."""
        out: list[str] = []
        for m in _DOC_NAME.finditer(text):
            name = next(g for g in m.groups() if g)
            if not m.group(1):
                name = _LEAD_IN.sub("", name)
            if len(name) < 4 or name in _GENERIC_DOC or _NOT_A_NAME.search(name) or self.known_doc(name):
                continue
            out.append(f"《{name}》")
        if self._alias_re is not None and self.versions:
            for y in _YEAR.finditer(text):
                near = text[max(0, y.start() - 16) : y.end() + 16]
                for a in self._alias_re.finditer(near):
                    for title in self.doc_aliases[a.group(0)]:
                        held = self.versions.get(title, set())
                        if held and y.group(1) not in held:
                            out.append(f"《{title}》{y.group(1)}年版（现有{'、'.join(sorted(held))}年版）")
        return tuple(dict.fromkeys(out))

    def sides(self, text: str) -> tuple[frozenset[str], ...]:
        """The documents a question asks about together: two it names (监察法和实施条例各怎么规定), or Party discipline
        and state sanctions (党纪和政务处分分别怎么处理). Versions of one document count once."""
        found: list[frozenset[str]] = []
        if self._alias_re is not None:
            found.extend(frozenset(self.doc_aliases[m.group(0)]) for m in self._alias_re.finditer(text))
        for pattern, title in _REGIMES:
            if title in self.titles and pattern.search(text):
                found.append(frozenset({title}))
        out = list(dict.fromkeys(found))
        return tuple(out) if len(set().union(*out)) >= 2 else ()

    def _articles(self, text: str) -> tuple[tuple[str, str], ...]:
        refs = [m for m in _ARTICLE_REF.finditer(text)]
        if not refs:
            return ()
        docs: list[str] = []
        if self._alias_re is not None:
            for m in self._alias_re.finditer(text):
                docs.extend(sorted(self.doc_aliases[m.group(0)]))
        out: list[tuple[str, str]] = []
        for m in refs:
            art = _cn_article(m.group(1))
            out.extend((d, art) for d in (docs or [""]))
        return tuple(dict.fromkeys(out))


def coverage(groups: Sequence[frozenset[str]], chunk_tokens: Container[str], idf: dict[str, float], default_idf: float) -> float:
    """Share of the question's concept weight a chunk holds. A concept weighs what its rarest known token weighs
    (an unknown word weighs the most: it is likely the point of the question) and counts when any token is found."""
    total = found = 0.0
    for g in groups:
        known = [idf[t] for t in g if t in idf]
        w = max(known) if known else default_idf
        total += w
        if any(t in chunk_tokens for t in g):
            found += w
    return found / total if total else 0.0
