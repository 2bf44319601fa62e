"""Fit the answer gate (assistant/answering/gate.py) on development sets, with cross-validation.

Each question's retrieval signals come from an eval run (rows carry ``features``). The label is whether answering
from the retrieved hits would be right: the question is answerable and a gold article is among the hits the answerer
sees. A standardized, L2-regularized logistic regression is fitted with class-balanced weights; the thresholds are
chosen on out-of-fold probabilities only, so the reported figures are honest estimates, not in-sample ones.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answering.gate import FEATURES, GateModel


@dataclass
class GateFit:
    model: GateModel
    oof: list[float]  # out-of-fold probability per row
    labels: list[int]
    answerable: list[bool]
    report: dict


def label(row: dict, top_k: int) -> int:
    rank = row.get("gold_rank")
    return int(bool(row["answerable"]) and rank is not None and rank <= top_k)


def _fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1.0, iters: int = 50) -> tuple[np.ndarray, float]:
    """Newton's method on the weighted, L2-penalized log-loss (the intercept is not penalized)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    pen = np.full(d + 1, l2)
    pen[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ beta, -30, 30)))
        grad = xb.T @ (w * (p - y)) + pen * beta
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def _standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def fit_model(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    mean, scale = _standardize(x)
    pos = max(y.sum(), 1)
    neg = max(len(y) - y.sum(), 1)
    w = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * neg))
    coef, intercept = _fit_logistic((x - mean) / scale, y.astype(float), w, l2)
    return mean, scale, coef, intercept


def _predict(x: np.ndarray, mean, scale, coef, intercept) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(((x - mean) / scale) @ coef + intercept, -30, 30)))


def choose_thresholds(p: Sequence[float], answerable: Sequence[bool], labels: Sequence[int], max_false_refusal: float = 0.10) -> tuple[float, float]:
    """``answer_at`` maximizes balanced accuracy between answerable and unanswerable questions, among thresholds that
    keep false refusals (answerable questions whose hits do hold the answer, refused) at most ``max_false_refusal``
    when possible; ``related_at`` sits below nearly every answerable question, so a question the knowledge base is
    near gets related articles rather than a bare refusal."""
    p_arr = np.asarray(p)
    ans = np.asarray(answerable, bool)
    good = np.asarray(labels, bool)
    candidates = sorted(set(np.round(p_arr, 4)) | {0.5})
    best, best_key = 0.5, (-1.0, -1.0)
    for t in candidates:
        answered = p_arr >= t
        tpr = answered[ans].mean() if ans.any() else 0.0
        tnr = (~answered[~ans]).mean() if (~ans).any() else 0.0
        false_refusal = (~answered[good]).mean() if good.any() else 0.0
        key = (float(false_refusal <= max_false_refusal), (tpr + tnr) / 2)
        if key > best_key:
            best, best_key = float(t), key
    related = float(np.quantile(p_arr[ans], 0.02)) if ans.any() else best / 2
    return best, min(related, best)


def fit_gate(rows: Sequence[dict], top_k: int, folds: int = 5, seed: int = 13, l2: float = 1.0, fitted_on: str = "") -> GateFit:
    x = np.array([[r["features"].get(f, 0.0) for f in FEATURES] for r in rows], dtype=float)
    y = np.array([label(r, top_k) for r in rows])
    answerable = [bool(r["answerable"]) for r in rows]
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    oof = np.zeros(len(rows))
    for k in range(folds):
        test = order[k::folds]
        train = [i for i in order if i not in set(test)]
        params = fit_model(x[train], y[train], l2)
        oof[test] = _predict(x[test], *params)
    answer_at, related_at = choose_thresholds(oof.tolist(), answerable, y.tolist())
    mean, scale, coef, intercept = fit_model(x, y, l2)
    model = GateModel(
        names=FEATURES,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in coef),
        intercept=float(intercept),
        answer_at=answer_at,
        related_at=related_at,
        fitted_on=fitted_on,
    )
    ans = np.asarray(answerable)
    answered = oof >= answer_at
    report = {
        "questions": len(rows),
        "answerable": int(ans.sum()),
        "unanswerable": int((~ans).sum()),
        "cv_false_refusal": float((~answered[ans]).mean()) if ans.any() else None,
        "cv_refusal_recall": float((~answered[~ans]).mean()) if (~ans).any() else None,
        "cv_related_or_answer_of_answerable": float((oof[ans] >= related_at).mean()) if ans.any() else None,
        "coefficients": dict(zip(FEATURES, (round(float(c), 3) for c in coef))),
    }
    return GateFit(model, [float(v) for v in oof], [int(v) for v in y], answerable, report)
