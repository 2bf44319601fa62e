"""Write an evaluation: per-question rows (CSV + JSONL), summary.json, plots and a Markdown report comparing runs."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path

from assistant.app.evaluation import Run, worst

# (key, ASCII label, Chinese label); quality metrics lie in 0..1.
QUALITY = [
    ("hit@1", "hit@1", "命中@1"),
    ("hit@3", "hit@3", "命中@3"),
    ("hit@5", "hit@5", "命中@5"),
    ("hit@10", "hit@10", "命中@10"),
    ("mrr", "MRR", "MRR"),
    ("ndcg@10", "nDCG@10", "nDCG@10"),
    ("keypoint_coverage", "keypoints", "要点覆盖"),
    ("citation_precision", "cite prec.", "引用精确率"),
    ("citation_validity", "cite valid", "引用有效率"),
    ("refusal_precision", "refuse P", "拒答精确率"),
    ("refusal_recall", "refuse R", "拒答召回率"),
]
TABLE = QUALITY + [
    ("keypoint_coverage_answered", "keypoints (answered only)", "要点覆盖（仅已回答）"),
    ("refusal_f1", "refusal F1", "拒答 F1"),
    ("false_refusal_rate", "false refusal rate", "误拒率"),
    ("outcomes_answerable", "answerable: answer / related / none", "可回答题：回答 / 相关条文 / 无依据"),
    ("outcomes_unanswerable", "unanswerable: answer / related / none", "不可回答题：回答 / 相关条文 / 无依据"),
    ("latency_p50_ms", "answer latency p50 (ms)", "回答延迟 p50（毫秒）"),
    ("latency_p95_ms", "answer latency p95 (ms)", "回答延迟 p95（毫秒）"),
    ("search_p50_ms", "search latency p50 (ms)", "检索延迟 p50（毫秒）"),
    ("search_p95_ms", "search latency p95 (ms)", "检索延迟 p95（毫秒）"),
]
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
)


def fmt(value, key: str = "") -> str:
    if value is None:
        return "n/a"
    if key.endswith("_ms"):
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def cjk_font() -> str | None:
    """Name of an installed font that has Chinese glyphs (fonts-noto-cjk and friends), or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    return next((n for n in sorted(installed) if "CJK" in n), None)


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # no display here; must precede pyplot
    import matplotlib.pyplot as plt

    font = cjk_font()
    if font:
        plt.rcParams["font.sans-serif"] = [font, *plt.rcParams["font.sans-serif"]]
        plt.rcParams["axes.unicode_minus"] = False
    return plt, font is not None


def _label(text: str, zh: bool) -> str:
    """Without a CJK font, Chinese characters would render as boxes (tofu): keep ASCII only."""
    if zh:
        return text
    ascii_text = text.encode("ascii", "ignore").decode().strip(" ·-_/")
    return ascii_text or "run"


def plot_metrics(runs: Sequence[Run], path: Path) -> Path:
    """Grouped bars: quality metrics (0..1) per run, and answer latency p50/p95 per run."""
    plt, zh = _plt()
    fig, (ax, lat) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [3.2, 1]})
    n = max(len(runs), 1)
    width = 0.8 / n
    for i, run in enumerate(runs):
        vals = [run.summary.get(k) or 0.0 for k, _, _ in QUALITY]
        xs = [j + (i - (n - 1) / 2) * width for j in range(len(QUALITY))]
        ax.bar(xs, vals, width, label=_label(run.name, zh))
    ax.set_xticks(range(len(QUALITY)))
    ax.set_xticklabels([(zh_label if zh else en) for _, en, zh_label in QUALITY], rotation=35, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("检索与回答质量" if zh else "Retrieval and answer quality")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    names = [_label(r.name, zh) for r in runs]
    p50 = [r.summary.get("latency_p50_ms") or 0 for r in runs]
    p95 = [r.summary.get("latency_p95_ms") or 0 for r in runs]
    xs = list(range(len(runs)))
    lat.bar([x - 0.2 for x in xs], p50, 0.4, label="p50")
    lat.bar([x + 0.2 for x in xs], p95, 0.4, label="p95")
    lat.set_xticks(xs)
    lat.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
    lat.set_ylabel("ms")
    lat.set_title("回答延迟" if zh else "Answer latency")
    lat.legend(fontsize=8)
    lat.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_relevance(runs: Sequence[Run], path: Path) -> Path:
    """Relevance (query IDF coverage of the best hit) per question: answerable vs unanswerable, one row per run."""
    plt, zh = _plt()
    fig, ax = plt.subplots(figsize=(10, 1.9 + 0.9 * max(len(runs), 1)))
    for i, run in enumerate(runs):
        thr = run.summary.get("threshold", {})
        a, u = thr.get("answerable", []), thr.get("unanswerable", [])
        ja = [i + 0.12 + 0.18 * ((k * 7919) % 13) / 13 for k in range(len(a))]  # deterministic jitter
        ju = [i - 0.12 - 0.18 * ((k * 7919) % 13) / 13 for k in range(len(u))]
        ax.scatter(a, ja, s=14, c="tab:blue", alpha=0.7, label=("可回答" if zh else "answerable") if i == 0 else None)
        ax.scatter(u, ju, s=22, c="tab:red", marker="x", label=("不可回答" if zh else "unanswerable") if i == 0 else None)
        best = thr.get("best_by_f1")
        if best:
            ax.plot(
                [best["threshold"]] * 2,
                [i - 0.4, i + 0.4],
                c="tab:green",
                lw=1.5,
                label=("F1 最优阈值" if zh else "best-F1 threshold") if i == 0 else None,
            )
    current = runs[0].summary.get("threshold", {}).get("current") if runs else None
    if current is not None:
        ax.axvline(current, c="gray", ls="--", lw=1, label=f"min_relevance={current:g}")
    ax.set_yticks(range(len(runs)))
    ax.set_yticklabels([_label(r.name, zh) for r in runs], fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.6, len(runs) - 0.4)
    ax.set_xlabel(
        "相关度 = 最佳检索结果覆盖的问题 IDF 权重占比" if zh else "relevance = IDF coverage of the query by the best hit"
    )
    ax.set_title("拒答阈值：相关度分布" if zh else "Refusal threshold: relevance distributions")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.32 - 0.1 / max(len(runs), 1)), ncol=4, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def summary_rows(runs: Sequence[Run], chinese: bool = False) -> list[list[str]]:
    """Metric-by-run table (first column the metric), for the report and the UI."""

    def name(en: str, zh: str) -> str:
        return f"{zh}（{en}）" if chinese and zh and zh != en else en

    return [[name(en, zh)] + [fmt(r.summary.get(key), key) for r in runs] for key, en, zh in TABLE]


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def worst_rows(run: Run, n: int = 10) -> list[list[str]]:
    out = []
    for r in worst(run.rows, n):
        out.append(
            [
                r["id"],
                r["question"],
                r["gold"] or "(unanswerable)",
                fmt(r["gold_rank"]) if r["answerable"] else "-",
                r["top1"],
                "yes" if r["refused"] else "no",
                fmt(r["relevance"]),
                fmt(r["keypoint_coverage"]),
                " / ".join(r["keypoints_missing"]),
            ]
        )
    return out


WORST_HEADER = ["id", "question", "gold", "gold rank", "top-1 hit", "refused", "relevance", "keypoints", "missing keypoints"]


def threshold_text(run: Run) -> str:
    t = run.summary.get("threshold", {})
    lines = [
        f"Run `{run.name}`: relevance = share of the query's IDF mass found in the best of the top-{run.config.get('top_k')} hits."
    ]
    a, u = t.get("answerable", []), t.get("unanswerable", [])
    if a:
        lines.append(f"- answerable (n={len(a)}): min {min(a):.3f}, median {a[len(a) // 2]:.3f}, max {max(a):.3f}")
    if u:
        lines.append(f"- unanswerable (n={len(u)}): min {min(u):.3f}, median {u[len(u) // 2]:.3f}, max {max(u):.3f}")
    if t.get("current") is not None:
        lines.append(
            f"- current min_relevance {t['current']:g}: refusal F1 {fmt(t.get('current_f1'))}, balanced accuracy {fmt(t.get('current_balanced_accuracy'))}"
        )
    for by in ("f1", "balanced_accuracy"):
        best, cv = t.get(f"best_by_{by}"), t.get(f"cv_by_{by}")
        if best:
            line = (
                f"- best by {by}: threshold {best['threshold']:.3f} → F1 {best['f1']:.3f}, balanced accuracy "
                f"{best['balanced_accuracy']:.3f}, refusal recall {best['refusal_recall']:.3f}, false refusals {best['false_refusal_rate']:.3f}"
            )
            if cv:
                line += (
                    f"; {cv['folds']}-fold cross-validated {by} {cv[by]:.3f} "
                    f"(thresholds chosen {cv['threshold_min']:.3f}–{cv['threshold_max']:.3f})"
                )
            lines.append(line)
    lines.append(
        "- The in-sample best threshold is optimistic (chosen on these very questions); the cross-validated figure is the honest one."
    )
    return "\n".join(lines)


def write_rows(runs: Sequence[Run], out: Path) -> None:
    rows = [{"run": run.name, **row} for run in runs for row in run.rows]
    with open(out / "rows.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if not rows:
        return
    with open(out / "rows.csv", "w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel opens UTF-8 Chinese correctly
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: " | ".join(v) if isinstance(v, list) else v for k, v in row.items()})


def write_report(runs: Sequence[Run], out: str | Path, set_path: str | Path = "", title: str = "Evaluation report") -> Path:
    """Write everything into ``out`` and return the path of report.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_rows(runs, out)
    created = time.strftime("%Y-%m-%d %H:%M:%S")
    summary = {
        "set": str(set_path),
        "created": created,
        "runs": [{"name": r.name, "config": r.config, "summary": r.summary} for r in runs],
    }
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    plot_metrics(runs, out / "metrics.png")
    plot_relevance(runs, out / "relevance.png")

    first = runs[0] if runs else None
    parts = [f"# {title}", ""]
    if first:
        s = first.summary
        parts += [
            f"- Q&A set: `{set_path}` — {s['questions']} questions ({s['answerable']} answerable, {s['unanswerable']} unanswerable)",
            f"- knowledge dir: `{first.config.get('knowledge_dir')}`; answerer: {first.config.get('answerer')}; "
            f"top_k {first.config.get('top_k')}; min_relevance {first.config.get('min_relevance')}",
            f"- created {created}; retrieval metrics use the top-10 hits against the gold sources.",
            "",
            "## Summary",
            "",
            _md_table(["metric"] + [r.name for r in runs], summary_rows(runs)),
            "",
            "![metrics](metrics.png)",
            "",
            "## Refusal threshold",
            "",
            "![relevance](relevance.png)",
            "",
            threshold_text(first),
            "",
            "## By question type",
            "",
        ]
        types = sorted(first.summary.get("by_type", {}))
        header = ["type", "n"] + [f"{r.name} hit@5" for r in runs] + [f"{r.name} keypoints" for r in runs]
        trows = []
        for t in types:
            cells = [t, first.summary["by_type"][t]["n"]]
            cells += [fmt(r.summary.get("by_type", {}).get(t, {}).get("hit@5")) for r in runs]
            cells += [fmt(r.summary.get("by_type", {}).get(t, {}).get("keypoint_coverage")) for r in runs]
            trows.append(cells)
        parts += [_md_table(header, trows), ""]
        for run in runs:
            parts += [f"## Worst questions: {run.name}", "", _md_table(WORST_HEADER, worst_rows(run)), ""]
    parts += ["Per-question rows: `rows.csv`, `rows.jsonl`; figures: `summary.json`.", ""]
    path = out / "report.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def print_summary(runs: Sequence[Run]) -> str:
    """The summary table as aligned plain text for the terminal."""
    rows = [["metric"] + [r.name for r in runs]] + summary_rows(runs)
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)
