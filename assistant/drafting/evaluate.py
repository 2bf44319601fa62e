"""Draft evaluation: for each topic (with a reference outline), how much of the reference the proposed outline
covers, how much of the written text carries citations that pass verification, and how the prose reads: how
close its wording is to the unit's past reports, how long its sentences are, and how often sentence openings
repeat (the template's stock phrases). `compare` puts the template and the LLM side by side."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from assistant.core.messages import error
from assistant.core.protocols import ChatModel, Library
from assistant.core.types import MARKER, UNSUPPORTED_MARK
from assistant.drafting.check import PLACEHOLDER
from assistant.drafting.export import to_markdown_file
from assistant.drafting.outline import heading_similarity
from assistant.text.similarity import bigram_counts, cosine
from assistant.text.structure import CN_SMALL

_UNSAFE = re.compile(r"[^\w]+")
MATCH = 0.5  # a reference heading counts as covered when some proposed heading is at least this similar


def load_topics(path: Path) -> list[dict]:
    """JSONL: {"topic": str, "reference": ["一、…", "（一）…"], "facts": "file relative to the JSONL" (optional)}."""
    path = Path(path)
    if not path.is_file():
        raise error("topics_file_missing", path=path)
    topics = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise error("topics_line_not_json", name=path.name, line=n, detail=e.msg) from e
        if not item.get("topic") or not item.get("reference"):
            raise error("topics_line_incomplete", name=path.name, line=n)
        if item.get("facts"):
            item["facts"] = str((path.parent / item["facts"]).resolve())
        topics.append(item)
    return topics


def coverage(reference: Sequence[str], proposed: Sequence[str]) -> tuple[float, float]:
    """(share of reference headings matched, mean best similarity)."""
    if not reference:
        return 0.0, 0.0
    best = [max((heading_similarity(r, p) for p in proposed), default=0.0) for r in reference]
    return sum(b >= MATCH for b in best) / len(best), sum(best) / len(best)


_ENUM = re.compile(rf"^[{CN_SMALL}]+是")
_SENT = re.compile(r"[^。！？]+[。！？]?")


def prose_sentences(text: str) -> list[str]:
    """Sentences of a paragraph without markers, placeholders and 一是 enumerators."""
    text = PLACEHOLDER.sub("", MARKER.sub("", text.replace(UNSUPPORTED_MARK, "")))
    return [s for s in (_ENUM.sub("", x.strip()) for x in _SENT.findall(text)) if len(s) >= 4]


def prose_stats(sents: Sequence[str], reports: Counter) -> dict:
    """style: character-pair cosine with the unit's past reports; chars: mean sentence length; repeated: share of
    sentences whose first four characters open another sentence of the same draft."""
    openings = Counter(s[:4] for s in sents)
    return {
        "style": round(cosine(bigram_counts("".join(sents), cjk_only=True), reports), 4) if reports else 0.0,
        "sentence_chars": round(sum(map(len, sents)) / len(sents), 1) if sents else 0.0,
        "repeated_openings": round(sum(1 for s in sents if openings[s[:4]] > 1) / len(sents), 4) if sents else 0.0,
    }


_QUOTE = re.compile(r"“((?:[^“”]|“[^“”]*”)+)”")


def quoted_fragments(paragraphs: Sequence) -> tuple[int, int]:
    """(sentences citing a regulation, those quoting it cut off mid-sentence): '对照《规定》第十二条“…以及上级党组织
    决定”的要求' reads as a broken sentence."""
    sents = cut = 0
    for p in paragraphs:
        rules = {c.n: c.chunk.text for c in p.citations if c.chunk.kind == "regulation"}
        for sent in _SENT.findall(p.text):
            texts = [rules[int(n)] for n in MARKER.findall(sent) if int(n) in rules]
            if not texts:
                continue
            sents += 1
            for m in _QUOTE.finditer(sent):
                q = m.group(1)
                src = next((t for t in texts if q in t), None)
                if src is None or len(q) < 8:
                    continue  # a quoted term (“四风”), not a quoted rule
                end = src.find(q) + len(q)
                if end < len(src) and src[end] not in "。；;！？\n" and not q.endswith(("。", "；")):
                    cut += 1
                    break
    return sents, cut


def evaluate(service: Library, topics: Sequence[dict], chat_model: ChatModel | None = None, out_dir: Path | None = None) -> dict:
    from assistant.drafting import draft
    from assistant.drafting.outline import report_chunks

    run = "llm" if chat_model else "template"
    reports = bigram_counts("".join(PLACEHOLDER.sub("", c.text) for c in report_chunks(service)), cjk_only=True)
    rows = []
    for n, item in enumerate(topics, 1):
        t0 = time.perf_counter()
        d = draft(service, item["topic"], facts=[item["facts"]] if item.get("facts") else None, chat_model=chat_model)
        seconds = time.perf_counter() - t0
        check = d.check
        assert check is not None, "a final draft carries its check"
        headings = [f"{label}{h.title}" for h, label in d.outline.numbered() if h.level in (1, 2)]
        cov, soft = coverage(item["reference"], headings)
        paragraphs = d.paragraphs
        fact_sections = sum(1 for s in d.sections if any(c.chunk.kind in ("facts", "list") for p in s.paragraphs for c in p.citations))
        written = sum(1 for s in d.sections if s.paragraphs)
        prose = prose_stats([x for p in paragraphs for x in prose_sentences(p.text)], reports)
        rule_sentences, cut = quoted_fragments(paragraphs)
        rows.append(
            {
                "topic": item["topic"],
                "coverage": round(cov, 4),
                "soft_coverage": round(soft, 4),
                "cited_share": round(check.cited_share, 4),
                "claims": check.claims,
                "paragraphs": len(paragraphs),
                "paragraphs_cited": sum(1 for p in paragraphs if p.citations),
                "sections_with_facts": fact_sections,
                "sections_written": written,
                "citations": len(d.citations),
                "report_citations": sum(1 for c in d.citations if c.chunk.kind == "report"),
                "placeholders": check.placeholders,
                "unknown_numbers": len(check.unknown_numbers),
                "backend": d.backend,
                "llm_share": round(d.llm_sentences / d.sentences, 4) if d.sentences else 0.0,
                **prose,
                "rule_sentences": rule_sentences,
                "quote_fragments": cut,
                "outline_source": d.outline.source,
                "seconds": round(seconds, 2),
            }
        )
        if out_dir:
            stem = _UNSAFE.sub("_", item["topic"])[:40]
            to_markdown_file(d, Path(out_dir) / f"{n:02d}-{stem}-{run}.md")
    keys = ("coverage", "soft_coverage", "cited_share", "llm_share", "style", "sentence_chars", "repeated_openings", "seconds")
    mean = {k: round(sum(r[k] for r in rows) / len(rows), 4) if rows else 0.0 for k in keys}
    total_p = sum(r["paragraphs"] for r in rows)
    mean["paragraphs_cited_share"] = round(sum(r["paragraphs_cited"] for r in rows) / total_p, 4) if total_p else 0.0
    mean["unknown_numbers"] = sum(r["unknown_numbers"] for r in rows)
    mean["report_citations"] = sum(r["report_citations"] for r in rows)
    rule_sentences = sum(r["rule_sentences"] for r in rows)
    mean["quote_fragments"] = round(sum(r["quote_fragments"] for r in rows) / rule_sentences, 4) if rule_sentences else 0.0
    return {"topics": rows, "mean": mean, "backend": run, "match_threshold": MATCH}


def format_report(report: dict) -> str:
    lines = [f"{'主题':<28} 提纲覆盖  软覆盖  引用句占比  有引用段落  含事实小节  待补充  无来源数字  改写  文风  句长  开头重复  秒"]
    for r in report["topics"]:
        topic = r["topic"] if len(r["topic"]) <= 26 else r["topic"][:25] + "…"
        lines.append(
            f"{topic:<28} {r['coverage']:>6.0%} {r['soft_coverage']:>7.2f} {r['cited_share']:>9.0%}"
            f" {r['paragraphs_cited']:>6}/{r['paragraphs']:<4} {r['sections_with_facts']:>6}/{r['sections_written']:<4}"
            f" {r['placeholders']:>5} {r['unknown_numbers']:>8} {r['llm_share']:>6.0%} {r['style']:>5.2f} {r['sentence_chars']:>5.0f}"
            f" {r['repeated_openings']:>7.0%} {r['seconds']:>6.1f}"
        )
    m = report["mean"]
    lines.append(
        f"\n平均（{len(report['topics'])} 个主题，{report['backend']}）：提纲覆盖 {m['coverage']:.1%}（软 {m['soft_coverage']:.2f}），"
        f"引用句占比 {m['cited_share']:.1%}，有引用段落 {m['paragraphs_cited_share']:.1%}，"
        f"无来源数字 {m['unknown_numbers']} 个，引用往年报告 {m['report_citations']} 次，大模型改写 {m['llm_share']:.0%} 的句子，"
        f"与往年报告文风相似度 {m['style']:.3f}，平均句长 {m['sentence_chars']:.0f} 字，开头重复的句子 {m['repeated_openings']:.0%}，"
        f"引用法规的句子中引文截断的 {m['quote_fragments']:.0%}，"
        f"每题 {m['seconds']:.1f} 秒"
    )
    return "\n".join(lines)


COMPARED = (
    ("coverage", "提纲覆盖", "{:.1%}"),
    ("cited_share", "引用句占比", "{:.1%}"),
    ("unknown_numbers", "无来源数字", "{}"),
    ("llm_share", "大模型改写的句子", "{:.0%}"),
    ("style", "与往年报告文风相似度（越高越像）", "{:.3f}"),
    ("sentence_chars", "平均句长（字）", "{:.0f}"),
    ("repeated_openings", "开头重复的句子（越低越好）", "{:.0%}"),
    ("quote_fragments", "引用法规的句子中引文截断（越低越好）", "{:.0%}"),
    ("seconds", "每题秒数", "{:.1f}"),
)


def format_comparison(reports: Sequence[dict]) -> str:
    """Means of several runs (template, llm) as one table."""
    names = [r["backend"] for r in reports]
    width = max(len(label) for _, label, _ in COMPARED) + 2
    lines = [" " * width + "".join(f"{n:>12}" for n in names)]
    for key, label, fmt in COMPARED:
        lines.append(label + " " * (width - len(label)) + "".join(f"{fmt.format(r['mean'][key]):>12}" for r in reports))
    return "\n".join(lines)
