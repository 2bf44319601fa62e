"""Does the knowledge base answer this question? A decision over several retrieval signals, not one threshold.

Lexical coverage alone does not separate: a colloquial question shares few words with the article that answers it,
while a look-alike the corpus cannot answer shares many. The gate combines signals that fail differently:
concept coverage after thesaurus expansion, the dense model's similarity, BM25 strength, whether the two retrievers
agree on the top article, how well the best single sentence matches, and how much of the question the index has never
seen. A logistic model over them is fitted on the development sets with cross-validation (`assistant eval fit-gate`)
and stored in resources/gate.json. Three outcomes: a cited answer, related articles only, or no basis.
"""

from __future__ import annotations

import math
from collections.abc import Container, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.core.resources import RESOURCES, load_fitted, save_fitted
from assistant.core.types import Decision, Hit
from assistant.index.query import QueryPlan
from assistant.index.query import coverage as concept_coverage
from assistant.text import query_tokens, sentences

GATE_FILE = RESOURCES / "gate.json"
FEATURES = (
    "coverage",  # best share of the question's IDF mass in one chunk (the old single signal)
    "concept",  # best concept coverage after thesaurus expansion and typo correction
    "concept_top1",  # concept coverage of the first hit
    "sentence",  # best concept coverage of one sentence among the first three hits
    "cosine",  # best dense similarity
    "cosine_gap",  # how far the first dense hit stands out from the fifth
    "bm25",  # best BM25 score per query token
    "agree",  # the first hit is in both retrievers' top 3
    "unknown",  # share of the question's tokens the index has never seen
    "expanded",  # the thesaurus or a typo correction changed the search
    "named",  # the question names an article that exists
    "missing",  # the question names a document or version the knowledge base does not hold
    "length",  # the question's length: coverage is a share, so a long question in the asker's own words scores low on it
)


def sentence_coverage(plan: QueryPlan, hits: Sequence[Hit], idf: dict[str, float], default_idf: float, top: int = 3) -> float:
    best = 0.0
    for h in hits[:top]:
        for sent in sentences(h.chunk.text):
            best = max(best, concept_coverage(plan.groups, set(query_tokens(sent)), idf, default_idf))
    return best


def features(plan: QueryPlan, hits: Sequence[Hit], idf: dict[str, float], default_idf: float, vocab: Container[str]) -> dict[str, float]:
    """The gate's inputs for one question and its hits (all on comparable 0..1-ish scales)."""
    # In the fusion's order (a hit's score is its fused score): the reranker decides what is quoted first, not
    # whether to answer, and the gate was fitted on the fused order.
    hits = sorted(hits, key=lambda h: -h.score)
    sc = [dict(h.scores) for h in hits]
    cos = sorted((s["cosine"] for s in sc if "cosine" in s), reverse=True)
    n_tok = max(len(plan.tokens), 1)
    first = sc[0] if sc else {}
    return {
        "coverage": max((s.get("coverage", 0.0) for s in sc), default=0.0),
        "concept": max((s.get("concept", 0.0) for s in sc), default=0.0),
        "concept_top1": first.get("concept", 0.0),
        "sentence": sentence_coverage(plan, hits, idf, default_idf),
        "cosine": cos[0] if cos else 0.0,
        "cosine_gap": (cos[0] - cos[min(4, len(cos) - 1)]) * 10 if cos else 0.0,
        "bm25": min(max((s.get("bm25", 0.0) for s in sc), default=0.0) / n_tok, 5.0),
        "agree": float(first.get("bm25_rank", 99) <= 3 and first.get("cosine_rank", 99) <= 3),
        "unknown": sum(1 for t in plan.tokens if t not in vocab) / n_tok,
        "expanded": float(plan.expanded),
        "named": float(any(s.get("named") for s in sc)),
        "missing": float(bool(plan.missing)),
        "length": min(len(plan.question), 120) / 30,
    }


@dataclass(frozen=True)
class GateModel:
    """Standardized logistic regression plus two thresholds on its probability."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    answer_at: float  # p ≥ this: a cited answer
    related_at: float  # p ≥ this (and below answer_at): related articles, marked as not an answer
    fitted_on: str = ""

    def probability(self, feats: dict[str, float]) -> float:
        z = self.intercept
        for name, m, s, c in zip(self.names, self.mean, self.scale, self.coef):
            z += c * (feats.get(name, 0.0) - m) / (s or 1.0)
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def outcome(self, p: float) -> str:
        return "answer" if p >= self.answer_at else "related" if p >= self.related_at else "none"


def gate_key(mode: str, embedder: str) -> str:
    """Gates are fitted per retrieval setup: the dense similarities of two embedders are not on one scale."""
    return f"{mode}/{embedder}" if mode != "bm25" else "bm25"


def load_gate(mode: str, embedder: str, path: Path = GATE_FILE) -> GateModel | None:
    """The gate fitted for this mode and embedder, or None (then the coverage threshold decides)."""
    fields = load_fitted(path, gate_key(mode, embedder))
    return GateModel(**fields) if fields else None


def save_gate(model: GateModel, mode: str, embedder: str, path: Path = GATE_FILE) -> None:
    comment = "Answer gates fitted by `assistant eval fit-gate` on the dev sets, one per mode/embedder."
    save_fitted(path, gate_key(mode, embedder), model.__dict__, comment)


class Gate:
    """Turns a plan and its hits into a Decision. Without a fitted model it falls back to the coverage threshold."""

    def __init__(self, model: GateModel | None, min_relevance: float = 0.4) -> None:
        self.model = model
        self.min_relevance = min_relevance

    def decide(self, plan: QueryPlan, hits: Sequence[Hit], idf: dict[str, float], default_idf: float, vocab: Container[str]) -> Decision:
        terms = tuple(dict.fromkeys([*plan.tokens, *plan.expansion]))
        if not hits:
            return Decision("none", 0.0, terms=terms, groups=plan.groups, notes=plan.notes)
        feats = features(plan, hits, idf, default_idf, vocab)
        if self.model is None:
            p = float(max(feats["coverage"], feats["concept"]) >= self.min_relevance)
            outcome = "answer" if p else "none"
        else:
            p = self.model.probability(feats)
            outcome = self.model.outcome(p)
        if plan.missing and outcome == "answer":
            # The question names a document or version the knowledge base lacks: a rule quoted from a neighbouring
            # document or an older version would be confidently wrong, so the nearest articles are shown as such.
            outcome = "related"
        return Decision(outcome, p, tuple(feats.items()), terms, plan.groups, plan.notes)
