"""The 起草 tab: topic -> editable outline -> draft with verified citations and sources -> .docx/.md downloads.

With the LLM the verified template draft shows at once, each section marked 〔初稿，模型润色中〕; the model's
rewording replaces a section when it passes the checks, and the downloads appear with the final draft."""

from __future__ import annotations

import html
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import gradio as gr

from assistant.app.drafting import PLACEHOLDER, Draft, Drafting, special_parts
from assistant.core.errors import AssistantError
from assistant.core.messages import say
from assistant.core.protocols import ChatModel
from assistant.core.types import KIND_LABELS, MARKER, UNSUPPORTED_MARK
from assistant.faces.ui.app import guarded
from assistant.faces.ui.render import doc_href

INTRO = (
    "先生成提纲（按知识库中往年报告的“一、（一）一是”层次和措辞），修改后再撰写。"
    "制度要求只引用法规制度，本单位的做法和数字只来自你提供的事实材料和责任清单；往年报告只作文风参考。"
    "缺少的内容以【待补充】标出，未知数字写作 **。"
)


def _message(e: AssistantError) -> str:
    return f"{e.message} — {e.fix}" if e.fix else e.message


def paragraph_html(text: str, draft_: Draft) -> str:
    """Escaped paragraph; [n] shows its source on hover, placeholders and unsupported claims are marked."""
    by_n = {c.n: c for c in draft_.citations}
    out = []
    for part in special_parts(text):
        m = MARKER.fullmatch(part)
        if m and int(m.group(1)) in by_n:
            c = by_n[int(m.group(1))]
            tip = html.escape(f"{c.label}：“{c.quote}”")  # the [n] opens the 原文 page at the article, in a new tab
            out.append(f'<sup class="draft-cite"><a href="{html.escape(doc_href(c))}" target="_blank" rel="noopener" title="{tip}">[{c.n}]</a></sup>')
        elif PLACEHOLDER.fullmatch(part):
            out.append(f'<mark class="draft-todo">{html.escape(part)}</mark>')
        elif part == UNSUPPORTED_MARK:
            out.append(f'<span class="draft-unsupported">{html.escape(part)}</span>')
        else:
            out.append(html.escape(part))
    return "".join(out)


def _section_mark(text: str, kind: str) -> str:
    color = "#b45309" if kind == "pending" else "#6b7280"
    return f' <span class="draft-{kind}" style="color:{color};font-size:0.8em;font-weight:normal">{html.escape(text)}</span>'


def draft_html(d: Draft) -> str:
    """The draft; a section still in the model's hands is marked 〔初稿，模型润色中〕, one it left as it was says why."""
    parts = ['<div class="draft">']
    if d.title:
        parts.append(f'<h2 style="text-align:center">{html.escape(d.title)}</h2>')
    for s in d.sections:
        tag = "h3" if s.level == 1 else "h4"
        mark = _section_mark(say("note_draft_section_pending"), "pending") if s.pending else (_section_mark(s.note, "note") if s.note else "")
        parts.append(f"<{tag}>{html.escape(s.heading)}{mark}</{tag}>")
        parts.extend(f'<p style="text-indent:2em">{paragraph_html(p.text, d)}</p>' for p in s.paragraphs)
    parts.append("</div>")
    return "\n".join(parts)


def sources_html(d: Draft) -> str:
    if not d.citations:
        return '<div class="draft-sources">没有引用。</div>'
    items = "".join(
        f"<li>[{c.n}] {html.escape(c.label)}〔{KIND_LABELS.get(c.chunk.kind, '其他')}〕：“{html.escape(c.quote)}”"
        f' <a href="{html.escape(doc_href(c))}" target="_blank" rel="noopener">查看原文</a></li>'
        for c in d.citations
    )
    return f'<div class="draft-sources"><h4>引用依据</h4><ol style="list-style:none;padding-left:0">{items}</ol></div>'


def status_markdown(d: Draft) -> str:
    c = d.check
    assert c is not None, "every draft a stream yields carries its check"
    head = (
        f"**核查**：{c.claims} 句陈述中 {c.cited} 句有经核验的引用（{c.cited_share:.0%}），"
        f"{len(d.citations)} 条引用依据，{c.placeholders} 处待补充，{len(c.unknown_numbers)} 个无来源数字。"
        f"撰写方式：{f'大模型改写 {d.llm_sentences}/{d.sentences} 句，其余为模板' if d.backend == 'llm' else '模板（离线）'}。"
    )
    notes = [*c.issues, *d.warnings]
    if d.provisional:
        written = [x for x in d.sections if x.paragraphs]
        pending = sum(x.pending for x in written)
        head = f"**{say('note_draft_status_pending', done=len(written) - pending, total=len(written))}**\n\n" + head
    return head + ("\n\n" + "\n".join(f"- {html.escape(n)}" for n in notes) if notes else "")


def _paths(files) -> list[Path]:
    out = []
    for f in files or []:
        out.append(Path(f if isinstance(f, str) else getattr(f, "name", f)))
    return out


def outline_for(drafting: Drafting, topic: str, use_llm: bool = False) -> tuple[str, str]:
    """(outline text, status line) for the 生成提纲 button."""
    o = drafting.propose_outline(topic, use_llm)
    return o.text(), f"提纲来源：{o.source}。可直接修改后点“撰写”。"


def write_draft(
    drafting: Drafting,
    topic: str,
    outline_text: str,
    files: Sequence = (),
    facts_text: str = "",
    use_llm: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    out_dir: Path | None = None,
) -> tuple[Draft, Path, Path]:
    """Draft from the (edited) outline and write the .docx and .md for download."""
    *_, (d, docx, md) = write_draft_stream(drafting, topic, outline_text, files, facts_text, use_llm, progress, out_dir, at_once=False)
    assert docx is not None and md is not None
    return d, docx, md


def write_draft_stream(
    drafting: Drafting,
    topic: str,
    outline_text: str,
    files: Sequence = (),
    facts_text: str = "",
    use_llm: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    out_dir: Path | None = None,
    at_once: bool = True,
) -> Iterator[tuple[Draft, Path | None, Path | None]]:
    """(draft, None, None) for each provisional snapshot, then (final draft, .docx, .md): only the final is exported."""
    facts = drafting.load_facts(_paths(files), facts_text or "")
    outline = drafting.parse_outline(outline_text, topic) if (outline_text or "").strip() else None
    for d in drafting.draft_stream(topic, outline=outline, facts=facts, use_llm=use_llm, progress=progress, at_once=at_once):
        if d.provisional:
            yield d, None, None
            continue
        docx, md = drafting.export_to_folder(d, Path(out_dir or tempfile.mkdtemp(prefix="draft-")))
        yield d, docx, md


def build_draft_tab(service, chat_model: ChatModel | None = None) -> None:
    """Add the 起草 tab to the enclosing gr.Blocks. Without ``chat_model`` the LLM is built from settings on demand."""
    drafting = Drafting(service, chat_model)

    with gr.Tab("起草", id="draft"):
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                topic = gr.Textbox(label="主题", placeholder="如：二、强化责任落实，扛牢全面从严治党主体责任", lines=1)
                files = gr.File(
                    label="事实材料（可选，可多选：.md .txt .docx .xlsx …）",
                    file_count="multiple",
                    file_types=[".md", ".txt", ".docx", ".xlsx", ".xls", ".csv", ".pdf"],
                )
                facts_text = gr.Textbox(label="或直接粘贴事实材料（每行一条）", lines=4)
                use_llm = gr.Checkbox(label="用大模型撰写（需已启动模型服务；不可用时自动改用模板）", value=service.settings.answerer == "llm")
                outline_btn = gr.Button("生成提纲")
                outline = gr.Textbox(label="提纲（可修改：一、/（一）为标题，缩进的“一是…”为本节要点）", lines=14, interactive=True)
                write_btn = gr.Button("撰写", variant="primary")
            with gr.Column(scale=3):
                status = gr.Markdown()
                body = gr.HTML()
                sources = gr.HTML()
                with gr.Row():
                    docx_out = gr.File(label="下载 Word（.docx）", interactive=False)
                    md_out = gr.File(label="下载 Markdown（.md）", interactive=False)

        def on_outline(topic_: str, use_llm_: bool):
            try:
                return outline_for(drafting, topic_, use_llm_)
            except AssistantError as e:
                return gr.skip(), f"错误：{_message(e)}"

        def on_write(topic_: str, outline_: str, files_, facts_: str, use_llm_: bool, progress=gr.Progress()):  # noqa: B008 - gradio injects it
            def note(done: int, total: int, heading: str) -> None:
                progress(done / max(total, 1), desc=heading)

            try:
                for d, docx_path, md_path in write_draft_stream(drafting, topic_, outline_, files_, facts_, use_llm_, note):
                    # A snapshot clears the previous draft's downloads: only the final draft is exported.
                    files_out = (str(docx_path), str(md_path)) if docx_path and md_path else (None, None)
                    yield status_markdown(d), draft_html(d), sources_html(d), *files_out
            except AssistantError as e:
                yield f"错误：{_message(e)}", gr.skip(), gr.skip(), gr.skip(), gr.skip()

        outline_btn.click(guarded(on_outline, service), [topic, use_llm], [outline, status], api_visibility="private")
        # The progress bar (retrieval, then the model section by section) shows where the downloads will appear,
        # so the template draft and its status stay readable, not greyed out under an overlay, while the model works.
        write_btn.click(
            guarded(on_write, service), [topic, outline, files, facts_text, use_llm], [status, body, sources, docx_out, md_out],
            api_visibility="private", show_progress_on=[docx_out, md_out],
        )  # fmt: skip
