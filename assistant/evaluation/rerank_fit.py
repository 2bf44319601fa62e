"""Fit the reranker (assistant/index/rerank.py) on development sets, with each set held out in turn.

A question is a group: its fused candidates' features and which of them hold a gold article. The loss is listwise:
the softmax of the candidates' scores should put its mass on the gold ones (ListNet with a one-hot-per-gold target).
Features are standardized and the weights L2-penalized. The report gives, for each set, hit@1, hit@5 and MRR over its
candidates in the fused order and reordered by a model fitted on the other sets only, so the gain is an honest one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.index.rerank import FEATURES, RerankModel

Group = tuple[list[dict[str, float]], list[bool]]  # one question: its candidates' features, which are gold


@dataclass(frozen=True)
class RerankFit:
    """A reranker fitted on development sets, its report, and where it was saved (if so)."""

    model: RerankModel
    report: dict
    saved_as: str = ""
    saved_to: Path | None = None


def _matrix(feats: Sequence[Mapping[str, float]]) -> np.ndarray:
    return np.array([[f.get(n, 0.0) for n in FEATURES] for f in feats], dtype=float).reshape(len(feats), len(FEATURES))


def fit_weights(groups: Sequence[Group], l2: float = 0.01, iters: int = 400, rate: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, scale, coef) by gradient descent on the mean listwise loss of the groups that hold a gold candidate."""
    data = [(_matrix(f), np.asarray(y, float)) for f, y in groups if any(y)]
    if not data:
        zeros = np.zeros(len(FEATURES))
        return zeros, np.ones(len(FEATURES)), zeros
    stacked = np.vstack([x for x, _ in data])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0)
    scale[scale < 1e-9] = 1.0
    data = [((x - mean) / scale, y / y.sum()) for x, y in data]
    coef = np.zeros(len(FEATURES))
    for _ in range(iters):
        grad = l2 * coef
        for z, target in data:
            s = z @ coef
            p = np.exp(s - s.max())
            grad += z.T @ (p / p.sum() - target) / len(data)
        coef -= rate * grad
    return mean, scale, coef


def rank_metrics(groups: Sequence[Group], weights: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict[str, float]:
    """hit@1, hit@5 and MRR of the groups in their given order, or reordered by ``weights`` (stable on ties)."""
    h1 = h5 = rr = 0.0
    for feats, gold in groups:
        y = np.asarray(gold, bool)
        if weights is not None and len(y):
            mean, scale, coef = weights
            y = y[np.argsort(-(((_matrix(feats) - mean) / scale) @ coef), kind="stable")]
        found = np.flatnonzero(y)
        h1 += bool(len(found)) and found[0] == 0
        h5 += bool(len(found)) and found[0] < 5
        rr += 1.0 / (found[0] + 1) if len(found) else 0.0
    n = max(len(groups), 1)
    return {"hit@1": h1 / n, "hit@5": h5 / n, "mrr": rr / n}


def fit_rerank(sets: Mapping[str, Sequence[Group]], depth: int, fitted_on: str = "", seed: int = 13) -> RerankFit:
    """Each set scored by a model fitted on the others (5 folds of questions when there is one set), then the model
    fitted on all of them."""
    names = list(sets)
    folds: list[tuple[str, list[Group], list[Group]]] = []
    if len(names) > 1:
        folds = [(n, [g for m in names if m != n for g in sets[m]], list(sets[n])) for n in names]
    else:
        groups = list(sets[names[0]]) if names else []
        order = list(range(len(groups)))
        random.Random(seed).shuffle(order)
        for k in range(5):
            held = set(order[k::5])
            folds.append((f"fold {k + 1}", [g for i, g in enumerate(groups) if i not in held], [groups[i] for i in sorted(held)]))
    report: dict = {"held_out_in_turn": {}}
    for name, train, scored in folds:
        report["held_out_in_turn"][name] = {
            "questions": len(scored),
            "fused": rank_metrics(scored),
            "reranked": rank_metrics(scored, fit_weights(train)),
        }
    mean, scale, coef = fit_weights([g for n in names for g in sets[n]])
    model = RerankModel(
        names=FEATURES,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in coef),
        depth=depth,
        fitted_on=fitted_on,
    )
    report["coefficients"] = dict(zip(FEATURES, (round(float(c), 3) for c in coef)))
    return RerankFit(model, report)
