"""Reorder the hybrid search's first candidates by a linear model over their retrieval signals.

RRF fusion only sees each list's ranks: a chunk first in BM25 by a wide margin and one first by a hair count alike,
and how much of the question a chunk holds enters only as a small bonus. The model weighs the signals each candidate
already has (fused score, concept coverage, BM25 and cosine, their ranks), each relative to the best candidate of the
same question, so one set of weights serves questions short and long. It is fitted on the development sets
(`assistant eval fit-rerank`, assistant/evaluation/rerank_fit.py) with a listwise softmax loss: the gold articles
should come first among a question's candidates. Stored in resources/rerank.json per mode and embedder, as the gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.core.resources import RESOURCES, load_fitted, save_fitted

RERANK_FILE = RESOURCES / "rerank.json"
FEATURES = (
    "fused", "concept", "concept_share", "coverage", "cosine_gap", "bm25_share", "bm25_rr", "cosine_rr", "fused_rr",
)  # fmt: skip
MISSING_RANK = 31  # a candidate one list did not return ranks just below that list's depth (30)


def candidate_features(fused: Sequence[float], parts: Sequence[Mapping[str, float]]) -> list[dict[str, float]]:
    """The signals of a question's candidates (in fused order), each scaled by the best candidate's where a raw value
    means little across questions (a BM25 score grows with the question's length)."""
    best_fused = max(fused, default=0.0) or 1.0
    best_concept = max((p.get("concept", 0.0) for p in parts), default=0.0) or 1.0
    best_bm25 = max((p.get("bm25", 0.0) for p in parts), default=0.0) or 1.0
    cosines = [p["cosine"] for p in parts if "cosine" in p]
    best_cosine = max(cosines, default=0.0)
    floor = min(cosines, default=0.0)  # a chunk the dense list did not return is at most as close as its last one
    return [
        {
            "fused": f / best_fused,
            "concept": p.get("concept", 0.0),
            "concept_share": p.get("concept", 0.0) / best_concept,
            "coverage": p.get("coverage", 0.0),
            "cosine_gap": p.get("cosine", floor) - best_cosine,
            "bm25_share": p.get("bm25", 0.0) / best_bm25,
            "bm25_rr": 1.0 / p.get("bm25_rank", MISSING_RANK),
            "cosine_rr": 1.0 / p.get("cosine_rank", MISSING_RANK),
            "fused_rr": 1.0 / (n + 1),
        }
        for n, (f, p) in enumerate(zip(fused, parts))
    ]


@dataclass(frozen=True)
class RerankModel:
    """Standardized linear scores over FEATURES; the first ``depth`` fused candidates are reordered by them."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    depth: int  # the answerer's top_k when it was fitted
    fitted_on: str = ""

    def score(self, feats: Mapping[str, float]) -> float:
        return sum(c * (feats.get(n, 0.0) - m) / (s or 1.0) for n, m, s, c in zip(self.names, self.mean, self.scale, self.coef))

    def order(self, feats: Sequence[Mapping[str, float]]) -> list[int]:
        """Positions of the candidates, best first; ties keep the fused order."""
        scores = [self.score(f) for f in feats]
        return sorted(range(len(feats)), key=lambda i: -scores[i])


def rerank_key(mode: str, embedder: str) -> str:
    return f"{mode}/{embedder}"


def load_rerank(mode: str, embedder: str, path: Path = RERANK_FILE) -> RerankModel | None:
    """The reranker fitted for this mode and embedder, or None (the fused order stands)."""
    fields = load_fitted(path, rerank_key(mode, embedder)) if mode == "hybrid" else None
    return RerankModel(**fields) if fields else None


def save_rerank(model: RerankModel, mode: str, embedder: str, path: Path = RERANK_FILE) -> None:
    comment = "Rerankers fitted by `assistant eval fit-rerank` on the dev sets, one per mode/embedder."
    save_fitted(path, rerank_key(mode, embedder), model.__dict__, comment)
