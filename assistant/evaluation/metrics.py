"""Evaluation metrics as small pure functions, so each can be checked on hand-computed cases.

Retrieval metrics take, for each ranked hit, the index of the gold source it satisfies (-1 = none).
Several chunks may satisfy one gold source (the parts of a split article): a gold source counts once,
at the rank of its first chunk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def first_ranks(matches: Sequence[int], n_gold: int) -> list[int | None]:
    """1-based rank at which each gold source is first retrieved (None = not retrieved)."""
    ranks: list[int | None] = [None] * n_gold
    for rank, g in enumerate(matches, 1):
        if 0 <= g < n_gold and ranks[g] is None:
            ranks[g] = rank
    return ranks


def found_rank(matches: Sequence[int], n_gold: int, all_required: bool = False) -> int | None:
    """Rank at which the question counts as answered by retrieval: the first gold hit,
    or (all_required) the rank by which every gold source has appeared."""
    ranks = first_ranks(matches, n_gold)
    if not ranks:
        return None
    if all_required:
        return None if any(r is None for r in ranks) else max(r for r in ranks if r is not None)
    hits = [r for r in ranks if r is not None]
    return min(hits) if hits else None


def hit_at(matches: Sequence[int], n_gold: int, k: int, all_required: bool = False) -> float:
    rank = found_rank(matches, n_gold, all_required)
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(matches: Sequence[int], n_gold: int, all_required: bool = False, k: int = 10) -> float:
    rank = found_rank(matches[:k], n_gold, all_required)
    return 1.0 / rank if rank else 0.0


def ndcg_at(matches: Sequence[int], n_gold: int, k: int = 10, all_required: bool = False) -> float:
    """Binary-gain nDCG@k: a hit gains 1 the first time it covers a gold source.

    The ideal ranking puts gold sources first: all of them when all are required, else one
    (any single gold source fully answers the question).
    """
    if n_gold <= 0:
        return 0.0
    seen: set[int] = set()
    dcg = 0.0
    for rank, g in enumerate(matches[:k], 1):
        if 0 <= g < n_gold and g not in seen:
            seen.add(g)
            dcg += 1.0 / math.log2(rank + 1)
            if not all_required:
                break  # further gold sources add nothing when one suffices
    ideal_n = min(n_gold if all_required else 1, k)
    idcg = sum(1.0 / math.log2(r + 1) for r in range(1, ideal_n + 1))
    return dcg / idcg if idcg else 0.0


def keypoint_coverage(found: Sequence[bool]) -> float:
    """Share of keypoints the answer contains; a question without keypoints counts as fully covered."""
    return sum(found) / len(found) if found else 1.0


def ratio(num: float, den: float) -> float | None:
    """num/den, or None when undefined (reported as n/a rather than as a fake 0 or 1)."""
    return num / den if den else None


def refusal_scores(refused: Sequence[bool], unanswerable: Sequence[bool]) -> dict[str, float | None]:
    """Refusal as the positive class: precision = right refusals / refusals, recall = right refusals / unanswerable."""
    tp = sum(1 for r, u in zip(refused, unanswerable) if r and u)
    fp = sum(1 for r, u in zip(refused, unanswerable) if r and not u)
    fn = sum(1 for r, u in zip(refused, unanswerable) if not r and u)
    tn = sum(1 for r, u in zip(refused, unanswerable) if not r and not u)
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = ratio(2 * tp, 2 * tp + fp + fn)
    specificity = ratio(tn, tn + fp)  # answerable questions actually answered
    balanced = (recall + specificity) / 2 if recall is not None and specificity is not None else None
    return {
        "refusal_precision": precision,
        "refusal_recall": recall,
        "refusal_f1": f1,
        "false_refusal_rate": ratio(fp, fp + tn),
        "balanced_accuracy": balanced,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


# ---------------------------------------------------------------- refusal threshold


def threshold_table(answerable: Sequence[float], unanswerable: Sequence[float]) -> list[dict[str, float]]:
    """Refuse when relevance < t. One row per candidate t (midpoints between observed values, plus the ends)."""
    if not answerable or not unanswerable:
        return []  # nothing to separate
    values = sorted(set(answerable) | set(unanswerable))
    cands = [values[0]] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1e-9]
    rows = []
    for t in cands:
        refused = [v < t for v in answerable] + [v < t for v in unanswerable]
        truth = [False] * len(answerable) + [True] * len(unanswerable)
        s = refusal_scores(refused, truth)
        rows.append(
            {
                "threshold": t,
                "f1": s["refusal_f1"] or 0.0,
                "balanced_accuracy": s["balanced_accuracy"] or 0.0,
                "refusal_recall": s["refusal_recall"] or 0.0,
                "false_refusal_rate": s["false_refusal_rate"] or 0.0,
            }
        )
    return rows


def best_threshold(answerable: Sequence[float], unanswerable: Sequence[float], by: str = "f1") -> dict[str, float] | None:
    """The candidate maximising ``by`` (f1 or balanced_accuracy); ties go to the lowest threshold
    (fewer wrong refusals of answerable questions)."""
    rows = threshold_table(answerable, unanswerable)
    if not rows:
        return None
    return max(rows, key=lambda r: (round(r[by], 12), -r["threshold"]))


def cross_validated(
    answerable: Sequence[float], unanswerable: Sequence[float], by: str = "f1", folds: int = 5
) -> dict[str, float] | None:
    """Honest estimate: pick the threshold on k-1 folds, score refusals on the held-out fold, pool the folds.

    Items are assigned to folds round-robin in the given order, so the result is deterministic.
    """
    n_a, n_u = len(answerable), len(unanswerable)
    if n_a < folds or n_u < folds:
        return None
    refused: list[bool] = []
    truth: list[bool] = []
    chosen: list[float] = []
    for f in range(folds):
        train_a = [v for i, v in enumerate(answerable) if i % folds != f]
        train_u = [v for i, v in enumerate(unanswerable) if i % folds != f]
        best = best_threshold(train_a, train_u, by)
        t = best["threshold"] if best else 0.0
        chosen.append(t)
        for i, v in enumerate(answerable):
            if i % folds == f:
                refused.append(v < t)
                truth.append(False)
        for i, v in enumerate(unanswerable):
            if i % folds == f:
                refused.append(v < t)
                truth.append(True)
    s = refusal_scores(refused, truth)
    return {
        "folds": folds,
        "f1": s["refusal_f1"] or 0.0,
        "balanced_accuracy": s["balanced_accuracy"] or 0.0,
        "threshold_min": min(chosen),
        "threshold_max": max(chosen),
    }
