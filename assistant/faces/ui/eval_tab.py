"""The 评估 tab: run a Q&A set against the live service and compare runs side by side."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import gradio as gr

from assistant.app.service import AssistantService
from assistant.core.errors import AssistantError
from assistant.core.messages import error
from assistant.core.types import MODE_LABELS, MODES
from assistant.faces.ui.app import guarded

MODE_CHOICES = [(MODE_LABELS[m], m) for m in MODES]
MAX_RUNS = 4  # runs kept side by side in one browser session
WORST_HEADER_ZH = ["编号", "问题", "标准出处", "出处排名", "第一条检索结果", "拒答", "相关度", "要点覆盖", "缺少的要点"]


def _set_choices() -> list[str]:
    from assistant.app.evaluation import list_sets

    return [p.name for p in list_sets()]


def _resolve_set(name: str | None, upload: str | None) -> Path:
    from assistant.app.evaluation import sets_dir

    if upload:
        return Path(upload)
    if name:
        return sets_dir() / name
    raise error("eval_no_set_chosen")


def run_eval(service: AssistantService, set_name, upload, mode, limit, runs, progress=None):
    """Evaluate one set and return everything the tab shows (also used by tests without a browser)."""
    from assistant.app.evaluation import evaluate, load_set
    from assistant.app.report import summary_rows, worst_rows, write_report

    path = _resolve_set(set_name, upload)
    items = load_set(path)
    if limit and int(limit) > 0:
        items = items[: int(limit)]
    t0 = time.perf_counter()
    run = evaluate(service, items, mode=mode or None, progress=progress)
    run.name = f"{run.name} · {path.stem}"
    runs = ([*(runs or []), run])[-MAX_RUNS:]
    out = Path(tempfile.mkdtemp(prefix="assistant-eval-"))
    report = write_report(runs, out, path)
    headers = ["指标"] + [r.name for r in runs]
    summary = undefined_refusal_as_na(summary_rows(runs, chinese=True), runs)
    s = run.summary
    status = (
        f"**{path.name}**：{s['questions']} 题（可回答 {s['answerable']}，不可回答 {s['unanswerable']}），"
        f"用时 {time.perf_counter() - t0:.1f} 秒。表中并列显示本次会话最近 {len(runs)} 次评估。"
    )
    files = [str(report), str(out / "rows.csv"), str(out / "summary.json")]
    return (
        status,
        gr.update(value=summary, headers=headers),
        str(out / "metrics.png"),
        str(out / "relevance.png"),
        worst_rows(run),
        files,
        runs,
    )


# Refusal metrics take the unanswerable questions as positives: on a set without any they are undefined, not 0.
REFUSAL_KEYS = ("refusal_precision", "refusal_recall", "refusal_f1")


def undefined_refusal_as_na(rows: list[list[str]], runs) -> list[list[str]]:
    """The summary table with n/a for the refusal metrics of each run whose set has no unanswerable questions."""
    from assistant.app.report import TABLE

    out = [list(r) for r in rows]
    for i, (key, _en, _zh) in enumerate(TABLE):
        if key not in REFUSAL_KEYS or i >= len(out):
            continue
        for j, run in enumerate(runs, start=1):
            if not run.summary.get("unanswerable"):
                out[i][j] = "n/a"
    return out


def build_eval_tab(service: AssistantService) -> None:
    """Add the 评估 tab; call inside a ``gr.Blocks()`` context."""
    choices = _set_choices()
    with gr.Tab("评估"):
        gr.Markdown(
            "用问答集评估检索与回答：命中率、MRR、nDCG、要点覆盖、引用精确率与有效率、拒答精确率/召回率、延迟。"
            "问答集格式见 `evals/README.md`。"
        )
        runs = gr.State([])
        with gr.Row():
            set_name = gr.Dropdown(
                choices=choices, value="dev.jsonl" if "dev.jsonl" in choices else None, label="问答集", scale=2
            )
            upload = gr.File(label="或上传问答集（.jsonl）", file_types=[".jsonl"], type="filepath", scale=2)
            mode = gr.Radio(choices=MODE_CHOICES, value=service.settings.mode, label="检索方式", scale=2)
            limit = gr.Number(value=0, precision=0, minimum=0, label="只评前 N 题（0 = 全部）", scale=1)
        with gr.Row():
            run_btn = gr.Button("运行评估", variant="primary")
            clear_btn = gr.Button("清空对比")
        status = gr.Markdown()
        summary = gr.Dataframe(headers=["指标"], interactive=False, label="汇总（各次评估并列）", wrap=True)
        metrics_img = gr.Image(type="filepath", label="指标对比", interactive=False)
        relevance_img = gr.Image(type="filepath", label="相关度分布与拒答阈值", interactive=False)
        worst = gr.Dataframe(headers=WORST_HEADER_ZH, interactive=False, label="最差的问题（本次评估）", wrap=True)
        files = gr.File(label="报告与逐题结果", file_count="multiple", interactive=False)

        def on_run(set_name, upload, mode, limit, runs, progress=gr.Progress()):  # noqa: B008 - gradio injects it
            try:
                return run_eval(service, set_name, upload, mode, limit, runs, progress=lambda f, d: progress(f, desc=d))
            except AssistantError as e:
                raise gr.Error(f"{e.message}" + (f" — {e.fix}" if e.fix else "")) from None

        run_btn.click(
            guarded(on_run, service),
            inputs=[set_name, upload, mode, limit, runs],
            outputs=[status, summary, metrics_img, relevance_img, worst, files, runs],
        )
        clear_btn.click(lambda: ([], "已清空。", gr.update(value=[], headers=["指标"])), outputs=[runs, status, summary])
