"""The office's chat page: questions go to the user's chosen knowledge base (only ones they may read), every answer is
saved to their history and audited, and a sidebar lists, searches, resumes, exports (.md / .docx) and deletes
their conversations.

A saved answer is shown again only with the quotes of knowledge bases the user may still read: after a grant is
revoked, the quotes and answer text from that knowledge base are withheld on screen and in exports.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.app.office import ConversationDetail, Turn, UserInfo, record_answer, record_failure, to_docx, to_markdown
from assistant.core.errors import AssistantError
from assistant.core.messages import error
from assistant.core.types import OUTCOME_LABELS, Answer
from assistant.faces.ui import render
from assistant.faces.ui.app import _chat_fn, _messages, guarded
from assistant.faces.ui.office_ui import OfficeUI

HISTORY_LIMIT = 100
ROLE_LABELS = {"admin": "管理员", "editor": "编辑", "reader": "读者"}
WITHHELD = "（此处内容来自你现在无权查询的知识库 {kbs}，不再显示）"


def client_of(request: gr.Request | None) -> str:
    try:
        host = request.client.host if request is not None and request.client else ""  # type: ignore[union-attr]
    except AttributeError:
        host = ""
    return f"web {host}".strip()


# ---------------------------------------------------------------------- saved turns on screen and in exports


def visible_turn(user: UserInfo, t: Turn) -> Turn:
    """The turn as this user may see it now: citations of knowledge bases they cannot read lose their quote, and an
    answer built on them is withheld."""
    hidden = sorted({c.kb for c in t.citations if c.kb and not user.can_read(c.kb)})
    if not hidden:
        return t
    note = WITHHELD.format(kbs="、".join(hidden))
    citations = tuple(dataclasses.replace(c, quote=note, chunk_id="") if c.kb in hidden else c for c in t.citations)
    return dataclasses.replace(t, answer=note, citations=citations)


def visible_detail(user: UserInfo, detail: ConversationDetail) -> ConversationDetail:
    return dataclasses.replace(detail, turns=tuple(visible_turn(user, t) for t in detail.turns))


def saved_answer_html(t: Turn) -> str:
    """The chat bubble of a saved turn: the same look as a live answer, from the saved text and citations."""
    cls = {"answer": "answer", "related": "answer related", "none": "answer refused"}.get(t.outcome, "answer")
    badge = f'<div class="outcome outcome-{t.outcome}">{render.escape(OUTCOME_LABELS.get(t.outcome, t.outcome))}</div>'
    parts = [f'<div class="{cls}">{badge}{render._with_markers(t.answer, t.citations)}']  # type: ignore[arg-type]
    if t.citations:
        items = "".join(
            f'<li><span class="src-n">[{c.n}]</span> {render.escape(c.label)}：<q>{render.escape(c.quote)}</q></li>' for c in t.citations
        )
        parts.append(f'<details class="cite-list"><summary>引用条文（{len(t.citations)}）</summary><ol>{items}</ol></details>')
    parts.append("</div>")
    return "".join(parts)


def saved_sources_html(t: Turn | None) -> str:
    if t is None:
        return render.sources_html(None)
    parts = ['<div class="sources">']
    if not t.citations:
        parts.append('<div class="src-none">本次回答没有引用条文。</div>')
    for c in t.citations:
        where = " / ".join(p for p in (c.kb and f"知识库 {c.kb}", c.source) if p)
        parts.append(
            f'<div class="src{" superseded" if c.superseded else ""}" id="src-{c.n}">'
            f'<div class="src-head"><span class="src-n">[{c.n}]</span> {render.escape(c.label)}</div>'
            f'<blockquote class="src-quote">{render.escape(c.quote)}</blockquote>'
            f'<div class="src-meta">{render.escape(where)}</div></div>'
        )
    parts.append("</div>")
    return "".join(parts)


def saved_turns(user: UserInfo, detail: ConversationDetail) -> list[dict]:
    """The chat's turn dicts for a saved conversation (what the user may see of it)."""
    out = []
    for t in visible_detail(user, detail).turns:
        out.append({"q": t.question, "a": t.answer, "html": saved_answer_html(t), "message_id": t.id, "turn": t})
    return out


def _safe_name(title: str) -> str:
    name = re.sub(r'[\\/:*?"<>|\s]+', "_", title).strip("._") or "对话"
    return name[:40]


def export_files(user: UserInfo, detail: ConversationDetail, folder: Path | None = None) -> tuple[Path, Path]:
    """The conversation as .md and .docx files (what the user may see of it), for the download buttons."""
    folder = folder or Path(tempfile.mkdtemp(prefix="assistant-export-"))
    shown = visible_detail(user, detail)
    stem = f"对话{detail.conversation.id}_{_safe_name(detail.conversation.title)}"
    md = folder / f"{stem}.md"
    md.write_text(to_markdown(shown), "utf-8")
    docx = to_docx(shown, folder / f"{stem}.docx")
    return md, docx


# ---------------------------------------------------------------------- the page


class OfficePage:
    """The office parts of the page: the history sidebar, the knowledge-base choice and feedback in the chat tab,
    and the admin tabs. Handlers are methods, so tests call them with a ``gr.Request(username=…)``."""

    def __init__(self, ui: OfficeUI) -> None:
        self.ui = ui
        self.office = ui.office

    # ------------------------------------------------------------------ history list

    def conversation_choices(self, user: UserInfo, query: str = "") -> list[tuple[str, int]]:
        """(label, id) of the user's conversations, newest first; with ``query``, those whose turns contain it."""
        query = (query or "").strip()
        if query:
            seen: dict[int, str] = {}
            for hit in self.office.history.search(user, query, limit=HISTORY_LIMIT):
                seen.setdefault(hit.conversation_id, f"{hit.conversation_title} · {hit.turn.created_at:%m-%d %H:%M}")
            return [(label, cid) for cid, label in seen.items()]
        return [
            (f"{c.title} · {c.updated_at:%m-%d %H:%M} · {c.turns}问", c.id)
            for c in self.office.history.conversations(user, limit=HISTORY_LIMIT)
        ]

    def history_list(self, query: str, selected: int | None, request: gr.Request) -> Any:
        user = self.ui.user(request)
        choices = self.conversation_choices(user, query)
        value = selected if selected in {cid for _, cid in choices} else None
        return gr.Radio(choices=choices, value=value, label=f"历史对话（{len(choices)}）")

    # ------------------------------------------------------------------ resume, export, delete

    def resume(self, conversation_id: int | None, request: gr.Request) -> tuple:
        """Load a saved conversation into the chat: (chatbot, turns, sources, conversation id, kb, .md, .docx, confirm row)."""
        user = self.ui.user(request)
        if conversation_id is None:
            raise error("ui_no_conversation")
        detail = self.office.history.get(user, int(conversation_id))
        turns = saved_turns(user, detail)
        last = turns[-1]["turn"] if turns else None
        readable = [kb for kb in detail.conversation.kbs if user.can_read(kb)]
        kb = gr.Dropdown(choices=self.ui.readable(user), value=readable[-1]) if readable else gr.skip()
        md, docx = export_files(user, detail)
        return (
            _messages(turns),
            turns,
            saved_sources_html(last),
            detail.conversation.id,
            kb,
            gr.DownloadButton(value=str(md), interactive=True),
            gr.DownloadButton(value=str(docx), interactive=True),
            gr.Row(visible=False),
        )

    def ask_delete(self, conversation_id: int | None, request: gr.Request) -> tuple:
        user = self.ui.user(request)
        if conversation_id is None:
            raise error("ui_no_conversation")
        detail = self.office.history.get(user, int(conversation_id))
        text = f"确定删除对话“{render.escape(detail.conversation.title)}”（{detail.conversation.turns} 问）？删除后无法恢复。"
        return gr.Row(visible=True), f'<div class="delete-question">{text}</div>'

    def delete(self, conversation_id: int | None, query: str, request: gr.Request) -> tuple:
        """Delete the chosen conversation (after the confirmation); the chat empties when it was the one shown."""
        user = self.ui.user(request)
        if conversation_id is None:
            raise error("ui_no_conversation")
        self.office.history.delete(user, int(conversation_id))
        self.office.audit.append("conversation_delete", user, client=client_of(request), detail=f"conversation {conversation_id}")
        choices = self.conversation_choices(user, query)
        return (
            gr.Radio(choices=choices, value=None, label=f"历史对话（{len(choices)}）"),
            [],
            [],
            render.sources_html(None),
            None,
            gr.DownloadButton(value=None, interactive=False),
            gr.DownloadButton(value=None, interactive=False),
            gr.Row(visible=False),
        )

    # ------------------------------------------------------------------ asking

    def whoami(self, request: gr.Request) -> str:
        user = self.ui.user(request)
        role = ROLE_LABELS.get(user.role, user.role)
        return f'<div class="who">当前用户：<b>{render.escape(user.name)}</b>（{role}）</div>'

    def kb_choices(self, request: gr.Request) -> Any:
        user = self.ui.user(request)
        kbs = self.ui.readable(user)
        return gr.Dropdown(choices=kbs, value=self.ui.default_kb(user), interactive=bool(kbs))

    def respond(self, question: str, turns: list[dict], mode: str, kb: str | None, conversation_id: int | None,
                request: gr.Request) -> Iterator[tuple]:  # fmt: skip
        """Stream one answer from the chosen knowledge base, save it to the user's history and audit it. Yields
        (chatbot, turns, sources, conversation id, history list)."""
        user = self.ui.user(request)
        kb, service = self.ui.service(user, kb)
        saved: dict[str, int] = {}
        started = time.perf_counter()

        def on_answer(q: str, answer: Answer) -> dict:
            elapsed = (time.perf_counter() - started) * 1000
            turn, _ = record_answer(
                self.office, user, kb, q, answer, elapsed, client=client_of(request), conversation_id=conversation_id
            )
            saved["conversation_id"] = turn.conversation_id
            return {"message_id": turn.id, "kb": kb}

        def on_error(q: str, e: Exception) -> None:
            record_failure(self.office, user, kb, q, e, (time.perf_counter() - started) * 1000, client=client_of(request))

        ask, _ = _chat_fn(service, on_answer=on_answer, on_error=on_error)
        last: tuple = ()
        for out in ask(question, turns, mode):
            last = tuple(out)
            yield (*last, gr.skip(), gr.skip())
        if saved:  # the finished answer again, with where it was saved
            cid = saved["conversation_id"]
            choices = self.conversation_choices(user)
            yield (*last, cid, gr.Radio(choices=choices, value=cid, label=f"历史对话（{len(choices)}）"))

    def regenerate(self, turns: list[dict], mode: str, kb: str | None, conversation_id: int | None,
                   request: gr.Request) -> Iterator[tuple]:  # fmt: skip
        if not turns:
            yield [], [], render.sources_html(None), conversation_id, gr.skip()
            return
        yield from self.respond(turns[-1]["q"], turns[:-1], mode, kb, conversation_id, request)

    def new_chat(self) -> tuple:
        return ([], [], render.sources_html(None), "", None, gr.Radio(value=None),
                gr.DownloadButton(value=None, interactive=False), gr.DownloadButton(value=None, interactive=False))  # fmt: skip

    # ------------------------------------------------------------------ layout

    def build_sidebar(self) -> None:
        with gr.Sidebar(label="历史对话", open=True, elem_id="history-sidebar"):
            with gr.Row():
                self.who = gr.HTML(js_on_load=None, elem_id="who")
                gr.Button("退出登录", link="/logout", size="sm", elem_id="logout", scale=0, min_width=80)
            self.new_button = gr.Button("＋ 新对话", elem_id="history-new", size="sm")
            self.search = gr.Textbox(placeholder="搜索历史对话，回车", show_label=False, elem_id="history-search", lines=1)
            self.history = gr.Radio(choices=[], value=None, label="历史对话", elem_id="history-list")
            with gr.Row():
                self.export_md = gr.DownloadButton("导出 .md", value=None, interactive=False, size="sm", elem_id="history-md")
                self.export_docx = gr.DownloadButton("导出 .docx", value=None, interactive=False, size="sm", elem_id="history-docx")
            self.delete_button = gr.Button("删除此对话", variant="stop", size="sm", elem_id="history-delete")
            with gr.Row(visible=False, elem_id="history-confirm") as self.confirm_row:
                self.confirm_text = gr.HTML(js_on_load=None)
                self.confirm_yes = gr.Button("确认删除", variant="stop", size="sm", elem_id="history-confirm-yes")
                self.confirm_no = gr.Button("取消", size="sm", elem_id="history-confirm-no")

    def build_chat_extras(self) -> None:
        """Inside the chat column: the knowledge-base choice and the feedback form."""
        from assistant.faces.ui.feedback import FeedbackForm

        self.kb = gr.Dropdown([], value=None, label="知识库（只列出你有权查询的）", elem_id="kb-choice")
        self.feedback = FeedbackForm(self)
        self.feedback.build()

    def wire_chat(self, demo: gr.Blocks, chatbot: Any, question: Any, send: Any, regen: Any, clear: Any, mode: Any,
                  sources: Any, turns: Any, pending: Any) -> None:  # fmt: skip
        self.conversation = gr.State(None)
        conv = self.conversation
        outs = [chatbot, turns, sources, conv, self.history]
        respond = guarded(self.respond)
        limit = {"concurrency_limit": getattr(self.ui.settings, "ui_concurrency", 1), "concurrency_id": "answer"}
        for trigger in (question.submit, send.click):
            trigger(lambda q: ("", q), question, [question, pending], queue=False, api_visibility="private").then(
                respond, [pending, turns, mode, self.kb, conv], outs, api_visibility="private", **limit
            )
        for trigger in (regen.click, chatbot.retry):
            trigger(guarded(self.regenerate), [turns, mode, self.kb, conv], outs, api_visibility="private", **limit)
        reset_outs = [chatbot, turns, sources, question, conv, self.history, self.export_md, self.export_docx]
        for trigger in (clear.click, chatbot.clear, self.new_button.click):
            trigger(self.new_chat, None, reset_outs, queue=False, api_visibility="private")

        resume_outs = [chatbot, turns, sources, conv, self.kb, self.export_md, self.export_docx, self.confirm_row]
        self.history.input(guarded(self.resume), self.history, resume_outs, api_visibility="private")
        self.search.submit(guarded(self.history_list), [self.search, conv], self.history, api_visibility="private")
        self.delete_button.click(guarded(self.ask_delete), conv, [self.confirm_row, self.confirm_text], api_visibility="private")
        self.confirm_no.click(lambda: gr.Row(visible=False), None, self.confirm_row, queue=False, api_visibility="private")
        self.confirm_yes.click(
            guarded(self.delete), [conv, self.search], [self.history, chatbot, turns, sources, conv, self.export_md, self.export_docx,
                                                        self.confirm_row], api_visibility="private",
        )  # fmt: skip
        self.feedback.wire(chatbot, turns)
        demo.load(guarded(self.whoami), None, self.who, api_visibility="private")
        demo.load(guarded(self.kb_choices), None, self.kb, api_visibility="private")
        demo.load(guarded(self.history_list), [self.search, conv], self.history, api_visibility="private")

    def build_admin_tabs(self, demo: gr.Blocks) -> None:
        from assistant.faces.ui.admin_tab import AdminTabs

        self.admin = AdminTabs(self)
        self.admin.build(demo)

    def ask(self, question: str, history: Sequence | None, mode: str, request: gr.Request | None) -> dict:
        """The /ask API in office mode: the user's default knowledge base, saved and audited like the chat."""
        from assistant.faces.ui.app import parse_history

        user = self.ui.user(request)
        kb, service = self.ui.service(user, None)
        started = time.perf_counter()
        try:
            answer = service.ask(question, parse_history(history), mode or None)
        except AssistantError as e:
            record_failure(self.office, user, kb, question, e, (time.perf_counter() - started) * 1000, client=client_of(request))
            raise
        turn, _ = record_answer(self.office, user, kb, question, answer, (time.perf_counter() - started) * 1000,
                                client=client_of(request))  # fmt: skip
        return {**answer.to_dict(), "kb": kb, "conversation_id": turn.conversation_id, "message_id": turn.id}
