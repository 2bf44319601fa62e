"""👍/👎 on each answer of the chat (Gradio's like buttons), then an optional comment, the correct answer and the correct
article (《文件名》第N条). The rating is stored at once; the form's details replace it when sent. Admins review it
in the 反馈 tab."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.app.office import FeedbackInfo
from assistant.core.messages import error
from assistant.faces.ui import render
from assistant.faces.ui.app import guarded

if TYPE_CHECKING:
    from assistant.faces.ui.history import OfficePage

RATINGS = [("👍 有帮助", 1), ("👎 有问题", -1)]


def _rating(liked: Any) -> int | None:
    """Gradio's like value: True / "Like" → 1, False / "Dislike" → -1, None or "" (un-liked) → None."""
    if liked is True or liked == "Like":
        return 1
    if liked is False or liked == "Dislike":
        return -1
    return None


class FeedbackForm:
    def __init__(self, page: OfficePage) -> None:
        self.page = page
        self.ui = page.ui
        self.office = page.office

    def _message_id(self, turns: list[dict], index: Any) -> tuple[int, dict]:
        i = index[0] if isinstance(index, (list, tuple)) else index
        n = int(i) // 2  # each turn is a user message then an assistant message
        if not (0 <= n < len(turns or [])):
            raise error("ui_feedback_no_answer")
        turn = turns[n]
        if not turn.get("message_id"):
            raise error("ui_answer_not_saved")
        return int(turn["message_id"]), turn

    def rate(self, turns: list[dict], like: gr.LikeData, request: gr.Request) -> tuple:
        """A 👍/👎 click: stored at once, and the form opens for the details. Outputs (form, target, rating, about)."""
        user = self.ui.user(request)
        rating = _rating(like.liked)
        if rating is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        message_id, turn = self._message_id(turns, like.index)
        info = self.office.feedback.give(user, message_id, rating)
        about = f'<div class="fb-about">评价：{render.escape(turn["q"])}（{"👍" if info.rating > 0 else "👎"} 已记录，可补充说明）</div>'
        return gr.Group(visible=True), message_id, rating, about

    def send(self, message_id: int | None, rating: int | None, comment: str, correct_answer: str, correct_article: str,
             request: gr.Request) -> tuple:  # fmt: skip
        """The form's details (they replace the first rating). Outputs (form, comment, correct answer, article, result)."""
        user = self.ui.user(request)
        if not message_id or rating not in (1, -1):
            raise error("ui_feedback_no_answer")
        info: FeedbackInfo = self.office.feedback.give(user, int(message_id), int(rating), comment or "", correct_answer or "",
                                                       correct_article or "")  # fmt: skip
        gr.Info(f"反馈 #{info.id} 已提交，等待管理员审核。谢谢！")
        return gr.Group(visible=False), "", "", "", f'<div class="fb-done">反馈 #{info.id} 已提交，等待管理员审核。</div>'

    def build(self) -> None:
        self.target = gr.State(None)
        self.result = gr.HTML(js_on_load=None, elem_id="feedback-result")
        with gr.Group(visible=False, elem_id="feedback-form") as self.form:
            self.about = gr.HTML(js_on_load=None)
            self.rating = gr.Radio(RATINGS, value=None, label="评价", elem_id="feedback-rating")
            self.comment = gr.Textbox(label="意见（可选）", lines=2, elem_id="feedback-comment")
            self.correct_answer = gr.Textbox(label="正确答案（可选）", lines=2, elem_id="feedback-answer")
            self.correct_article = gr.Textbox(label="正确条文（可选，写成《文件名》第N条，多条用；分隔）", elem_id="feedback-article")
            with gr.Row():
                self.submit = gr.Button("提交反馈", variant="primary", size="sm", elem_id="feedback-send")
                self.close = gr.Button("关闭", size="sm", elem_id="feedback-close")

    def wire(self, chatbot: Any, turns: Any) -> None:
        chatbot.like(guarded(self.rate), turns, [self.form, self.target, self.rating, self.about], api_visibility="private")
        self.submit.click(
            guarded(self.send),
            [self.target, self.rating, self.comment, self.correct_answer, self.correct_article],
            [self.form, self.comment, self.correct_answer, self.correct_article, self.result],
            api_visibility="private",
        )
        self.close.click(lambda: gr.Group(visible=False), None, self.form, queue=False, api_visibility="private")
