"""Admin pages of the office web UI: 反馈 (review the users' 👍/👎, accept with the correct article or reject) and
统计 (questions per day, refusal rate per day, top questions, top refused questions and slowest answers as charts,
and the audit log as CSV). The tabs show for admins only (hidden until the page load finds an admin), and every
handler checks the role again on the server."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import pandas as pd

from assistant.app.office import FeedbackInfo
from assistant.core.errors import AssistantError
from assistant.core.messages import error
from assistant.faces.ui import render
from assistant.faces.ui.app import guarded

if TYPE_CHECKING:
    from assistant.faces.ui.history import OfficePage

UTC_OFFSET_HOURS = 8  # days are counted in Beijing time
STATUS_CHOICES = [("待审核", "new"), ("已接受", "accepted"), ("已驳回", "rejected"), ("全部", "")]
STATUS_LABELS = {"new": "待审核", "accepted": "已接受", "rejected": "已驳回"}
FEEDBACK_HEADERS = ["编号", "时间", "用户", "评价", "问题", "原结果", "意见", "正确答案", "正确条文", "状态", "审核人"]
TOP_N = 10
COUNT_AXIS: dict[str, Any] = {"y_lim": [0, None], "y_axis_format": "~g"}  # bars from zero, no trailing zeros


def _short(text: str, n: int = 24) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def feedback_rows(entries: list[FeedbackInfo]) -> list[list]:
    return [
        [f.id, f"{f.created_at:%Y-%m-%d %H:%M}", f.user_name, "好评" if f.rating > 0 else "差评", f.question, f.outcome,
         f.comment, f.correct_answer, f.correct_article, STATUS_LABELS.get(f.status, f.status), f.reviewer_name]
        for f in entries
    ]  # fmt: skip


def feedback_detail_html(f: FeedbackInfo) -> str:
    cites = "".join(f"<li>[{c.n}] {render.escape(c.label)}：<q>{render.escape(c.quote)}</q></li>" for c in f.citations)
    rows = [
        f"<div><b>反馈 #{f.id}</b>（{'👍' if f.rating > 0 else '👎'}，{render.escape(STATUS_LABELS.get(f.status, f.status))}，"
        f"用户 {render.escape(f.user_name)}，知识库 {render.escape('、'.join(f.kbs) or '—')}）</div>",
        f"<div><b>问题：</b>{render.escape(f.question)}</div>",
        f"<div><b>回答（{render.escape(f.outcome)}）：</b>{render.escape(f.answer)}</div>",
    ]
    if cites:
        rows.append(f"<details><summary>引用条文（{len(f.citations)}）</summary><ol>{cites}</ol></details>")
    for label, value in (("意见", f.comment), ("正确答案", f.correct_answer), ("正确条文", f.correct_article),
                         ("审核意见", f.review_note)):  # fmt: skip
        if value:
            rows.append(f"<div><b>{label}：</b>{render.escape(value)}</div>")
    return f'<div class="fb-detail">{"".join(rows)}</div>'


class AdminTabs:
    def __init__(self, page: OfficePage) -> None:
        self.page = page
        self.ui = page.ui
        self.office = page.office

    # ------------------------------------------------------------------ 反馈

    def feedback_list(self, status: str, request: gr.Request) -> list[list]:
        self.ui.admin(request, "反馈审核")
        return feedback_rows(self.office.feedback.entries(status=status or None))

    def pick_feedback(self, rows: Any, select: gr.SelectData, request: gr.Request) -> tuple:
        """A click on a row of the list: (feedback id, detail, correct article, keypoints, note)."""
        self.ui.admin(request, "反馈审核")
        row = select.index[0] if isinstance(select.index, (list, tuple)) else select.index
        values = rows.values.tolist() if hasattr(rows, "values") else rows
        feedback_id = int(values[int(row)][0])
        f = self.office.feedback.get(feedback_id)
        return feedback_id, feedback_detail_html(f), f.correct_article, "；".join(f.keypoints), f.review_note

    def review(self, feedback_id: int | None, accept: bool, correct_article: str, keypoints: str, note: str, status: str,
               request: gr.Request) -> tuple:  # fmt: skip
        """Accept or reject one feedback (accepting checks it makes an eval line); audited. Outputs (list, detail, result)."""
        user = self.ui.admin(request, "反馈审核")
        if not feedback_id:
            raise error("ui_no_feedback_chosen")
        points = [p.strip() for p in (keypoints or "").replace(";", "；").split("；") if p.strip()]
        f = self.office.feedback.review(user, int(feedback_id), accept, note or "", correct_article=correct_article or "",
                                        keypoints=points)  # fmt: skip
        self.office.audit.append("feedback_review", user, client="web", detail=f"#{f.id} {f.status}")
        done = f'<div class="fb-done">反馈 #{f.id} {STATUS_LABELS.get(f.status, f.status)}。</div>'
        return feedback_rows(self.office.feedback.entries(status=status or None)), feedback_detail_html(f), done

    def accept(self, feedback_id: int | None, correct_article: str, keypoints: str, note: str, status: str,
               request: gr.Request) -> tuple:  # fmt: skip
        return self.review(feedback_id, True, correct_article, keypoints, note, status, request)

    def reject(self, feedback_id: int | None, correct_article: str, keypoints: str, note: str, status: str,
               request: gr.Request) -> tuple:  # fmt: skip
        return self.review(feedback_id, False, correct_article, keypoints, note, status, request)

    # ------------------------------------------------------------------ 统计

    def stats(self, days: float, request: gr.Request) -> tuple:
        """(summary, per day, refusal rate per day, top questions, top refused, slowest) for the last ``days`` days."""
        self.ui.admin(request, "统计")
        days = max(1, int(days or 30))
        since = datetime.now(UTC) - timedelta(days=days)
        log = self.office.audit
        rate = log.refusal_rate(since=since)
        per_day = log.questions_per_day(since=since, utc_offset_hours=UTC_OFFSET_HOURS)
        top = log.top_questions(TOP_N, since=since)
        refused = log.top_refused(TOP_N, since=since)
        slow = log.slowest(TOP_N, since=since)
        summary = (
            f'<div class="stats-summary">最近 {days} 天：提问 <b>{rate.questions}</b> 次，未给出有依据回答 <b>{rate.refused}</b> 次，'
            f"拒答率 <b>{rate.rate:.1%}</b></div>"
        )
        daily = pd.DataFrame(
            [{"日期": d.day.isoformat(), "提问数": d.questions, "拒答数": d.refused,
              "拒答率（%）": round(100 * d.refused / d.questions, 1) if d.questions else 0.0} for d in per_day],
            columns=["日期", "提问数", "拒答数", "拒答率（%）"],
        )  # fmt: skip
        top_df = pd.DataFrame(
            [{"问题": f"{i}. {_short(t.question)}", "次数": t.count} for i, t in enumerate(top, 1)], columns=["问题", "次数"]
        )
        refused_df = pd.DataFrame(
            [{"问题": f"{i}. {_short(t.question)}", "次数": t.count} for i, t in enumerate(refused, 1)], columns=["问题", "次数"]
        )
        slow_df = pd.DataFrame(
            [{"问题": f"{i}. {_short(a.question)}", "用时（秒）": round(a.elapsed_ms / 1000, 3), "用户": a.user_name}
             for i, a in enumerate(slow, 1)],
            columns=["问题", "用时（秒）", "用户"],
        )  # fmt: skip
        return summary, daily, daily, top_df, refused_df, slow_df

    def audit_csv(self, days: float, request: gr.Request) -> Any:
        """The audit log of the last ``days`` days as a CSV file (UTF-8 with BOM, for Excel); the export is audited."""
        user = self.ui.admin(request, "审计日志导出")
        days = max(1, int(days or 30))
        path = Path(tempfile.mkdtemp(prefix="assistant-audit-")) / f"审计日志_最近{days}天.csv"
        n = self.office.audit.export_csv(path, since=datetime.now(UTC) - timedelta(days=days))
        self.office.audit.append("audit_export", user, client="web", detail=f"{n} entries, {days} days")
        return gr.File(value=str(path), visible=True)

    # ------------------------------------------------------------------ visibility

    def _is_admin(self, request: gr.Request) -> bool:
        try:
            return self.ui.user(request).is_admin
        except AssistantError:  # not logged in, or the account is gone or disabled
            return False

    def on_feedback_tab(self, status: str, request: gr.Request) -> Any:
        """Opening the tab refreshes the list for admins; for anyone else it does nothing."""
        return self.feedback_list(status, request) if self._is_admin(request) else gr.skip()

    def on_stats_tab(self, days: float, request: gr.Request) -> Any:
        return self.stats(days, request) if self._is_admin(request) else (gr.skip(),) * 6

    def show_for(self, request: gr.Request) -> tuple:
        """On page load: the admin tabs and their content for admins only; anyone else sees neither (the handlers check
        the role anyway). Gradio's login reloads the page, so an admin logging in gets them. Outputs (反馈 tab, 统计 tab,
        反馈 content, 统计 content)."""
        admin = self._is_admin(request)
        return gr.Tab(visible=admin), gr.Tab(visible=admin), gr.Column(visible=admin), gr.Column(visible=admin)

    # ------------------------------------------------------------------ layout

    def build(self, demo: gr.Blocks) -> None:
        with (
            gr.Tab("反馈", id="review", visible=False) as feedback_tab,
            gr.Column(visible=False, elem_id="fb-body") as feedback_body,
        ):
            with gr.Row():
                status = gr.Dropdown(STATUS_CHOICES, value="new", label="状态", scale=1, elem_id="fb-status")
                refresh = gr.Button("刷新", size="sm", scale=0, elem_id="fb-refresh")
            table = gr.Dataframe(headers=FEEDBACK_HEADERS, value=[], interactive=False, wrap=True, elem_id="fb-table")
            chosen = gr.State(None)
            detail = gr.HTML('<div class="fb-detail">点击上表中的一行查看并审核。</div>', js_on_load=None, elem_id="fb-detail")
            article = gr.Textbox(label="正确条文（《文件名》第N条，多条用；分隔；接受对“未回答”的差评时必填）", elem_id="fb-article")
            keypoints = gr.Textbox(label="要点（可选，用；分隔，评测时检查回答是否包含）", elem_id="fb-keypoints")
            note = gr.Textbox(label="审核意见（可选）", elem_id="fb-note")
            with gr.Row():
                accept = gr.Button("接受", variant="primary", elem_id="fb-accept")
                reject = gr.Button("驳回", variant="stop", elem_id="fb-reject")
            result = gr.HTML(js_on_load=None, elem_id="fb-result")
        with (
            gr.Tab("统计", id="stats", visible=False) as stats_tab,
            gr.Column(visible=False, elem_id="stats-body") as stats_body,
        ):
            with gr.Row():
                days = gr.Number(30, label="统计最近天数", precision=0, minimum=1, maximum=3660, elem_id="stats-days")
                refresh_stats = gr.Button("刷新统计", size="sm", elem_id="stats-refresh")
                csv_button = gr.Button("导出审计日志 CSV", size="sm", elem_id="audit-csv")
            csv_file = gr.File(label="审计日志", interactive=False, visible=False, elem_id="audit-file")
            summary = gr.HTML(js_on_load=None, elem_id="stats-summary")
            with gr.Row():
                per_day = gr.BarPlot(x="日期", y="提问数", title="每日提问数", elem_id="stats-per-day", **COUNT_AXIS)
                refusal = gr.BarPlot(x="日期", y="拒答率（%）", title="每日拒答率（%）", elem_id="stats-refusal", y_lim=[0, 100],
                                     y_axis_format="~g")  # fmt: skip
            with gr.Row():
                top = gr.BarPlot(x="问题", y="次数", title="最常问的问题", sort="-y", elem_id="stats-top", **COUNT_AXIS)
                top_refused = gr.BarPlot(x="问题", y="次数", title="最常被拒答的问题", sort="-y", elem_id="stats-refused", **COUNT_AXIS)
            slowest = gr.BarPlot(x="问题", y="用时（秒）", title="最慢的回答", sort="-y", elem_id="stats-slowest", y_lim=[0, None],
                                 y_axis_format=".1f")  # fmt: skip

        review_outs = [table, detail, result]
        refresh.click(guarded(self.feedback_list), status, table, api_visibility="private")
        status.change(guarded(self.feedback_list), status, table, api_visibility="private")
        table.select(guarded(self.pick_feedback), table, [chosen, detail, article, keypoints, note], api_visibility="private")
        review_ins = [chosen, article, keypoints, note, status]
        accept.click(guarded(self.accept), review_ins, review_outs, api_visibility="private")
        reject.click(guarded(self.reject), review_ins, review_outs, api_visibility="private")
        stats_outs = [summary, per_day, refusal, top, top_refused, slowest]
        refresh_stats.click(guarded(self.stats), days, stats_outs, api_visibility="private")
        csv_button.click(guarded(self.audit_csv), days, csv_file, api_visibility="private")

        demo.load(self.show_for, None, [feedback_tab, stats_tab, feedback_body, stats_body], api_visibility="private")
        feedback_tab.select(guarded(self.on_feedback_tab), status, table, api_visibility="private")
        stats_tab.select(guarded(self.on_stats_tab), days, stats_outs, api_visibility="private")
