"""Run a Q&A set through the AssistantService and score retrieval, answers, citations, refusals and latency."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from assistant.answering.gate import GateModel
from assistant.app.service import AssistantService
from assistant.core.messages import error
from assistant.core.settings import Settings
from assistant.core.types import OUTCOMES, Answer, Hit
from assistant.evaluation import metrics as M
from assistant.evaluation.format import QAItem, gold_index, keypoint_found, list_sets, set_stats, sets_dir
from assistant.evaluation.format import gold_problems as format_gold_problems
from assistant.evaluation.format import load_qa as load_set
from assistant.evaluation.rerank_fit import RerankFit

# The facade the faces call: the set format's readers, as they are (see evals/README.md).
__all__ = [
    "GateFit", "RerankFit", "Run", "breakdown", "evaluate", "fit_gate", "fit_rerank", "gold_problems", "index_matches", "list_sets", "load_set", "relevances",
    "score_question", "set_stats", "sets_dir", "settings_for", "summarize", "sweep", "threshold_summary", "worst",
]  # fmt: skip
from assistant.index.retrieval import relevance

Progress = Callable[[float, str], None]
RETRIEVAL_K = 10
WORST_N = 10


@dataclass
class Run:
    """One configuration evaluated on one set: per-question rows and the summary."""

    name: str
    config: dict
    rows: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def _cited_ok(answer: Answer, item: QAItem) -> tuple[int, int, int]:
    """(citations, good citations, valid citations) for one answer.

    Good: the cited chunk is a gold source or contains a keypoint. Valid: the quote is a verbatim
    substring of the cited chunk and that chunk was among the retrieved hits.
    """
    retrieved = {h.chunk.id for h in answer.hits}
    good = valid = 0
    for c in answer.citations:
        if gold_index(c.chunk, item.gold) >= 0 or any(keypoint_found(kp, c.chunk.text) for kp in item.keypoints):
            good += 1
        if c.quote and c.quote in c.chunk.text and c.chunk.id in retrieved:
            valid += 1
    return len(answer.citations), good, valid


def score_question(
    item: QAItem, hits: Sequence[Hit], answer: Answer, search_ms: float, answer_ms: float, features: dict | None = None
) -> dict:
    """One per-question row. Retrieval metrics are over ``hits`` (top-10); answer metrics over ``answer``."""
    matches = [gold_index(h.chunk, item.gold) for h in hits[:RETRIEVAL_K]]
    n_gold = len(item.gold)
    rank = M.found_rank(matches, n_gold, item.all_required) if n_gold else None
    found = [keypoint_found(kp, answer.text) for kp in item.keypoints] if not answer.refused else [False] * len(item.keypoints)
    n_cit, good, valid = _cited_ok(answer, item)
    row = {
        "id": item.id,
        "question": item.question,
        "type": item.type,
        "answerable": item.answerable,
        "gold": "; ".join(f"{g.doc} {g.article}".strip() for g in item.gold),
        "gold_rank": rank,
        "hit@1": M.hit_at(matches, n_gold, 1, item.all_required) if n_gold else None,
        "hit@3": M.hit_at(matches, n_gold, 3, item.all_required) if n_gold else None,
        "hit@5": M.hit_at(matches, n_gold, 5, item.all_required) if n_gold else None,
        "hit@10": M.hit_at(matches, n_gold, 10, item.all_required) if n_gold else None,
        "rr": M.reciprocal_rank(matches, n_gold, item.all_required) if n_gold else None,
        "ndcg@10": M.ndcg_at(matches, n_gold, 10, item.all_required) if n_gold else None,
        "top1": hits[0].chunk.label if hits else "",
        "style": item.style,
        "refused": answer.refused,
        "outcome": answer.outcome,
        "confidence": answer.confidence,
        "features": {k: round(v, 4) for k, v in (features or {}).items()},
        "relevance": round(relevance(answer.hits), 4),
        "keypoint_coverage": M.keypoint_coverage(found) if item.answerable else None,
        "keypoints_missing": [kp for kp, ok in zip(item.keypoints, found) if not ok],
        "citations": n_cit,
        "citations_good": good,
        "citations_valid": valid,
        "citation_precision": M.ratio(good, n_cit),
        "citation_labels": [c.label for c in answer.citations],
        "search_ms": round(search_ms, 1),
        "answer_ms": round(answer_ms, 1),
        "answer": answer.text,
    }
    return row


def summarize(rows: Sequence[dict], min_relevance: float | None = None) -> dict:
    """Aggregate per-question rows. Retrieval and keypoint figures are over answerable questions;
    citation precision is pooled over the citations of answerable questions; validity over all citations."""
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    ret = [r for r in ans if r["hit@1"] is not None]
    s: dict = {"questions": len(rows), "answerable": len(ans), "unanswerable": len(una)}
    for key in ("hit@1", "hit@3", "hit@5", "hit@10", "ndcg@10"):
        s[key] = M.mean([r[key] for r in ret])
    s["mrr"] = M.mean([r["rr"] for r in ret])
    s["keypoint_coverage"] = M.mean([r["keypoint_coverage"] for r in ans])
    answered = [r for r in ans if not r["refused"]]
    s["keypoint_coverage_answered"] = M.mean([r["keypoint_coverage"] for r in answered])
    s["citation_precision"] = M.ratio(sum(r["citations_good"] for r in ans), sum(r["citations"] for r in ans))
    s["citation_validity"] = M.ratio(sum(r["citations_valid"] for r in rows), sum(r["citations"] for r in rows))
    s.update(M.refusal_scores([r["refused"] for r in rows], [not r["answerable"] for r in rows]))
    s["latency_p50_ms"] = M.percentile([r["answer_ms"] for r in rows], 50)
    s["latency_p95_ms"] = M.percentile([r["answer_ms"] for r in rows], 95)
    s["search_p50_ms"] = M.percentile([r["search_ms"] for r in rows], 50)
    s["search_p95_ms"] = M.percentile([r["search_ms"] for r in rows], 95)
    rel_a = [r["relevance"] for r in ans]
    rel_u = [r["relevance"] for r in una]
    s["threshold"] = threshold_summary(rel_a, rel_u, min_relevance)
    s["by_type"] = breakdown(rows, "type")
    # The three outcomes: a cited answer, related articles only (not an answer), no basis.
    s["outcomes"] = {
        group: {o: sum(1 for r in sub if r.get("outcome", "none" if r["refused"] else "answer") == o) for o in OUTCOMES}
        for group, sub in (("answerable", ans), ("unanswerable", una))
    }
    for group, counts in s["outcomes"].items():
        s[f"outcomes_{group}"] = " / ".join(str(counts[o]) for o in OUTCOMES)
    s["by_style"] = breakdown(rows, "style")
    return s


def breakdown(rows: Sequence[dict], key: str) -> dict[str, dict]:
    """Per value of ``key`` (type, style): questions, hit@5 and keypoints (answerable ones; M.mean skips the None of
    unanswerable rows) and refusals. Rows without a value are left out."""
    out: dict[str, dict] = {}
    for value in sorted({r.get(key, "") for r in rows} - {""}):
        sub = [r for r in rows if r.get(key) == value]
        out[value] = {
            "n": len(sub),
            "hit@5": M.mean([r["hit@5"] for r in sub]),
            "keypoint_coverage": M.mean([r["keypoint_coverage"] for r in sub]),
            "refused": sum(r["refused"] for r in sub),
        }
    return out


def threshold_summary(rel_answerable: Sequence[float], rel_unanswerable: Sequence[float], current: float | None = None) -> dict:
    """Where the refusal threshold should sit on these questions, plus a cross-validated (honest) estimate."""
    out: dict = {"current": current}
    if current is not None and (rel_answerable or rel_unanswerable):
        refused = [v < current for v in rel_answerable] + [v < current for v in rel_unanswerable]
        truth = [False] * len(rel_answerable) + [True] * len(rel_unanswerable)
        cur = M.refusal_scores(refused, truth)
        out["current_f1"] = cur["refusal_f1"]
        out["current_balanced_accuracy"] = cur["balanced_accuracy"]
    for by in ("f1", "balanced_accuracy"):
        best = M.best_threshold(rel_answerable, rel_unanswerable, by)
        out[f"best_by_{by}"] = best
        out[f"cv_by_{by}"] = M.cross_validated(rel_answerable, rel_unanswerable, by)
    out["answerable"] = sorted(rel_answerable)
    out["unanswerable"] = sorted(rel_unanswerable)
    return out


def worst(rows: Sequence[dict], n: int = WORST_N) -> list[dict]:
    """The questions most worth a look: gold not retrieved, wrong refusals, answers to unanswerable ones, low coverage."""

    def badness(r: dict) -> tuple:
        if not r["answerable"]:
            return (0 if r["refused"] else 3, r["relevance"])
        missed = r["hit@10"] == 0
        return (2 * missed + (1 if r["refused"] else 0), 1 - (r["keypoint_coverage"] or 0), 1 - (r["rr"] or 0))

    bad = [r for r in rows if badness(r)[0] > 0 or (r["answerable"] and (r["keypoint_coverage"] or 0) < 1)]
    return sorted(bad, key=badness, reverse=True)[:n]


def evaluate(
    service: AssistantService,
    items: Sequence[QAItem],
    *,
    mode: str | None = None,
    name: str = "",
    progress: Progress | None = None,
) -> Run:
    """Ask every question: top-10 search (retrieval metrics) and service.ask (answer metrics, timed end to end)."""
    if not items:
        raise error("qa_set_empty")
    settings: Settings = service.settings
    mode = mode or settings.mode
    note = progress or (lambda frac, desc: None)
    config = {
        "mode": mode,
        "embedder": settings.embedder if mode != "bm25" else "-",
        "answerer": settings.answerer,
        "top_k": settings.top_k,
        "min_relevance": settings.min_relevance,
        "index": str(settings.kb_dir),
        "knowledge_dir": str(settings.knowledge_dir),
    }
    run = Run(name or f"{mode}/{config['embedder']}", config)
    service.search("全面从严治党", k=1, mode=mode)  # load the index and the model outside the timings
    for n, item in enumerate(items):
        note(n / len(items), f"{run.name}: {item.id}")
        t0 = time.perf_counter()
        hits = service.search(item.question, k=RETRIEVAL_K, mode=mode)
        t1 = time.perf_counter()
        answer = service.ask(item.question, mode=mode)
        t2 = time.perf_counter()
        feats = dict(service.decide(answer.query, answer.hits, mode).features)
        run.rows.append(score_question(item, hits, answer, (t1 - t0) * 1000, (t2 - t1) * 1000, feats))
    note(1.0, f"{run.name}: done")
    run.summary = summarize(run.rows, settings.min_relevance)
    return run


def relevances(service: AssistantService, items: Sequence[QAItem], mode: str | None = None) -> tuple[list[float], list[float]]:
    """Relevance of the hits the answerer would see, split by answerable / unanswerable (for the threshold)."""
    rel_a: list[float] = []
    rel_u: list[float] = []
    for item in items:
        value = relevance(service.search(item.question, mode=mode))
        (rel_a if item.answerable else rel_u).append(round(value, 4))
    return rel_a, rel_u


# ---------------------------------------------------------------- sweeps over modes and embedders


def index_matches(kb_dir: Path, knowledge_dir: Path, embedder: str) -> bool:
    """True when the index in kb_dir was built with ``embedder`` from exactly the files now in knowledge_dir."""
    from assistant.index.store import current_generation, read_manifest
    from assistant.ingest.loaders import file_hash
    from assistant.ingest.pipeline import Source, scan

    gen = current_generation(kb_dir)
    if gen is None:
        return False
    manifest = read_manifest(gen)
    if manifest.get("embedder") != embedder:
        return False
    indexed = {rel: f.get("sha256") for rel, f in manifest["files"].items() if not rel.startswith("uploads/")}
    files, _ = scan([Source(knowledge_dir)])
    if set(files) != set(indexed):
        return False
    return all(file_hash(path.read_bytes()) == indexed[rel] for rel, (path, _root) in files.items())


def settings_for(settings: Settings, embedder: str, index_root: Path) -> tuple[Settings, bool]:
    """Settings whose index was built with ``embedder``: the configured index when it matches the
    knowledge dir, else index_root/<embedder> (returned with needs_ingest=True; ingest is incremental)."""
    if index_matches(settings.kb_dir, settings.knowledge_dir, embedder):
        return settings.model_copy(update={"embedder": embedder}), False
    own = settings.model_copy(update={"embedder": embedder, "index_dir": Path(index_root) / embedder})
    return own, True


def sweep(
    settings: Settings,
    items: Sequence[QAItem],
    modes: Sequence[str],
    embedders: Sequence[str],
    index_root: Path,
    *,
    build: Callable[[Settings], AssistantService] | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = lambda msg: None,
) -> list[Run]:
    """Every mode with every embedder; bm25 does not use the embedder, so it runs once."""
    if build is None:
        from assistant.app.compose import build as default_build

        build = default_build
    runs: list[Run] = []
    bm25_done = False
    for embedder in embedders:
        s, needs_ingest = settings_for(settings, embedder, index_root)
        service = build(s)
        if needs_ingest:
            log(f"index for {embedder}: {s.kb_dir} (building or updating)")
            report = service.ingest(show_bar=False)
            log(f"  {report.summary()}")
        else:
            log(f"index for {embedder}: reusing {s.kb_dir}")
        for mode in modes:
            if mode == "bm25":
                if bm25_done:
                    continue
                bm25_done = True
            runs.append(evaluate(service, items, mode=mode, progress=progress))
    return runs


# ---------------------------------------------------------------- gate fitting and gold checks for the faces


@dataclass(frozen=True)
class GateFit:
    """A gate fitted on development sets: the model, its cross-validated report, and where it was saved (if so)."""

    model: GateModel
    report: dict
    saved_as: str = ""
    saved_to: Path | None = None


def fit_gate(
    service: AssistantService, paths: Sequence[str | Path], mode: str | None = None, write: bool = False, progress: Progress | None = None
) -> GateFit:
    """Fit the answer gate on development sets, cross-validated; ``write`` saves it for this mode and embedder.
    A held-out set is refused: fitting on it would make its figures meaningless."""
    from assistant.answering.gate import GATE_FILE, gate_key, save_gate
    from assistant.evaluation.gate_fit import fit_gate as fit

    if any("heldout" in Path(p).name for p in paths):
        raise error("gate_on_heldout")
    rows: list[dict] = []
    for p in paths:
        rows.extend(evaluate(service, load_set(p), mode=mode, progress=progress).rows)
    result = fit(rows, service.settings.top_k, fitted_on=", ".join(Path(p).name for p in paths))
    if not write:
        return GateFit(result.model, result.report)
    mode = mode or service.settings.mode
    save_gate(result.model, mode, service.settings.embedder)
    return GateFit(result.model, result.report, gate_key(mode, service.settings.embedder), GATE_FILE)


def fit_rerank(
    service: AssistantService, paths: Sequence[str | Path], mode: str | None = None, write: bool = False, progress: Progress | None = None
) -> RerankFit:
    """Fit the reranker on development sets (each held out in turn in the report); ``write`` saves it for this mode
    and embedder. The candidates are the fused order without any reranker; a held-out set is refused."""
    from assistant.evaluation.rerank_fit import fit_rerank as fit
    from assistant.index.rerank import RERANK_FILE, candidate_features, rerank_key, save_rerank
    from assistant.index.retrieval import HybridRetriever

    if any("heldout" in Path(p).name for p in paths):
        raise error("rerank_on_heldout")
    mode = mode or service.settings.mode
    if mode != "hybrid":
        raise error("rerank_needs_hybrid", mode=mode)
    reader = service.reader()
    retriever = cast(HybridRetriever, service.retriever(mode, reader, rerank=False))  # hybrid mode builds one
    note = progress or (lambda frac, desc: None)
    # Only the answerer's top_k are reordered: which chunks they are stays the fusion's choice, so the gate (fitted
    # on the fused hits) still decides whether to answer on what it was fitted on. Reordering the first 20 measured
    # higher hit@5 but moved unanswerable questions' best-covering chunks into the top_k, and refusal recall fell.
    depth = service.settings.top_k
    sets: dict[str, list] = {}
    for p in paths:
        items = [it for it in load_set(p) if it.answerable and it.gold]
        groups = sets.setdefault(Path(p).name, [])
        for n, item in enumerate(items):
            note(n / max(len(items), 1), f"{Path(p).name}: {item.id}")
            _plan, order, fused, parts = retriever.candidates(item.question, RETRIEVAL_K, service.reworded(item.question))
            top = order[:depth]
            feats = candidate_features([fused[i] for i in top], [parts[i] for i in top])
            groups.append((feats, [gold_index(reader.chunks[i], item.gold) >= 0 for i in top]))
    note(1.0, "done")
    result = fit(sets, depth, fitted_on=", ".join(sets))
    if write:
        save_rerank(result.model, mode, service.settings.embedder)
        service.forget_rerankers()
        return RerankFit(result.model, result.report, rerank_key(mode, service.settings.embedder), RERANK_FILE)
    return result


def gold_problems(service: AssistantService, items: Sequence[QAItem]) -> list[str]:
    """Gold sources of ``items`` that the current index does not hold (document or article missing)."""
    from assistant.index.store import current_generation, read_chunks

    gen = current_generation(service.kb_dir)
    if gen is None:
        raise error("index_missing_for_gold", path=service.kb_dir)
    chunks, _ = read_chunks(gen)
    return format_gold_problems(items, chunks)
