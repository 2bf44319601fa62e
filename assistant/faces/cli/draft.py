"""`assistant draft`: draft report sections with verified citations (.docx/.md); `assistant draft eval` measures drafts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from assistant.core.messages import error, say
from assistant.core.types import MODES
from assistant.faces.cli.main import EXTENSIONS, _service, command


def _extend(sub) -> None:
    s = sub.add_parser(
        "draft",
        help="draft a report section with citations, exported as .docx/.md",
        description="起草：先按往年报告的文风拟提纲（--outline-only 打印，可编辑后用 --outline 传回），再逐节检索、撰写、核验引用。"
        " 事实只来自 --facts 文件和知识库中的责任清单；法规只作要求的依据；往年报告只作文风范例。",
    )
    s.add_argument("--topic", help="主题，如 “二、强化责任落实，扛牢全面从严治党主体责任” 或 “2024年度落实全面从严治党主体责任情况报告”")
    s.add_argument("--outline", type=Path, help="outline file: one heading per line, 一、/（一）/一是")
    s.add_argument("--facts", type=Path, action="append", default=[], help="facts file (.md .txt .docx .xlsx …); repeatable")
    s.add_argument("--out", type=Path, help="output file: .docx (a .md is written next to it) or .md")
    s.add_argument("--outline-only", action="store_true", help="print the proposed outline and stop")
    s.add_argument("--llm", action="store_true", help="write with the LLM (ASSISTANT_LLM_*); the offline template is the fallback")
    s.add_argument("--fonts", choices=["gb", "common"], default="gb", help="gb: 方正小标宋/仿宋_GB2312/楷体_GB2312; common: 宋体/仿宋/楷体")
    s.add_argument("--mode", choices=MODES)
    s.add_argument("--json", action="store_true", help="print the draft and its check as JSON")
    verbs = s.add_subparsers(dest="draft_cmd")
    e = verbs.add_parser("eval", help="outline coverage and citation share over a topics file (evals/draft_topics.jsonl)")
    e.add_argument("topics", type=Path)
    e.add_argument("--llm", action="store_true", help="write with the LLM (ASSISTANT_LLM_*)")
    e.add_argument("--compare", action="store_true", help="run the template and the LLM on the same topics and compare")
    e.add_argument("--limit", type=int, default=0)
    e.add_argument("--out-dir", dest="out_dir", type=Path, help="also write each draft as .md here")
    e.add_argument("--json", action="store_true")
    e.add_argument("--mode", choices=MODES)


EXTENSIONS.append(_extend)


def _print_check(d) -> None:
    c = d.check
    print(
        f"\n核查：{len(d.paragraphs)} 段，{c.claims} 句陈述中 {c.cited} 句有经核验的引用（{c.cited_share:.0%}），"
        f"{len(d.citations)} 条引用依据，{c.placeholders} 处待补充，{len(c.unknown_numbers)} 个无来源数字"
        + (f"，大模型改写 {d.llm_sentences}/{d.sentences} 句。" if d.backend == "llm" else "。"),
        file=sys.stderr,
    )
    for line in (*c.issues, *d.warnings):
        print(f"  - {line}", file=sys.stderr)


def draft_dict(d) -> dict:
    return {
        "topic": d.topic,
        "title": d.title,
        "backend": d.backend,
        "sentences": d.sentences,
        "llm_sentences": d.llm_sentences,
        "outline": d.outline.text(),
        "sections": [{"heading": s.heading, "level": s.level, "paragraphs": [p.text for p in s.paragraphs], "note": s.note} for s in d.sections],
        "citations": [{"n": c.n, "label": c.label, "quote": c.quote, "kind": c.chunk.kind, "source": c.chunk.source} for c in d.citations],
        "check": {
            "claims": d.check.claims,
            "cited": d.check.cited,
            "cited_share": round(d.check.cited_share, 4),
            "placeholders": d.check.placeholders,
            "unknown_numbers": list(d.check.unknown_numbers),
            "uncited_paragraphs": d.check.uncited_paragraphs,
            "issues": list(d.check.issues),
        },
        "warnings": list(d.warnings),
    }


@command("draft")
def cmd_draft(args, settings) -> int:
    from assistant.app.drafting import Drafting

    drafting = Drafting(_service(settings))
    if getattr(args, "draft_cmd", None) == "eval":
        return _cmd_eval(args, drafting)
    if not args.topic:
        raise error("draft_no_topic")
    if args.outline_only:
        print(drafting.propose_outline(args.topic, use_llm=args.llm).text())
        return 0
    if not args.out:
        raise error("draft_no_out")
    outline = None
    if args.outline:
        if not args.outline.is_file():
            raise error("outline_file_missing", path=args.outline)
        outline = drafting.parse_outline(args.outline.read_text("utf-8"), args.topic)

    def progress(done: int, total: int, heading: str) -> None:
        if done < total:
            print(f"[{done + 1}/{total}] {heading}", file=sys.stderr)

    # With --llm the verified template draft is printed at once (not with --json: one JSON document, the final);
    # the model's rewording replaces it section by section, and only the final draft is printed again and exported.
    d = None
    for n, d in enumerate(drafting.draft_stream(args.topic, outline=outline, facts=args.facts, use_llm=args.llm, progress=progress, at_once=not args.json)):
        if n == 0 and d.provisional:  # the template, before any model call
            print(f"{say('note_draft_cli_template')}\n\n{drafting.markdown(d)}", flush=True)
    assert d is not None and not d.provisional
    if args.llm and not args.json:
        print(f"{say('note_draft_cli_final')}\n\n{drafting.markdown(d)}", flush=True)
    written = drafting.export(d, args.out, fonts=args.fonts)
    if args.json:
        print(json.dumps(draft_dict(d), ensure_ascii=False, indent=1))
    else:
        print("已生成：" + "  ".join(str(p) for p in written))
    _print_check(d)
    return 0


def _cmd_eval(args, drafting) -> int:
    from assistant.app.drafting import format_comparison, format_report

    reports = drafting.evaluate(args.topics, use_llm=args.llm, compare=args.compare, limit=args.limit, out_dir=args.out_dir)
    if args.json:
        print(json.dumps(reports if args.compare else reports[0], ensure_ascii=False, indent=1))
        return 0
    for report in reports:
        print(format_report(report) + "\n")
    if args.compare:
        print(format_comparison(reports))
    return 0
