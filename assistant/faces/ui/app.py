"""The Gradio app: streaming chat with citation markers and a sources panel, plus knowledge-base management.

Everything the page loads is served by this process (local fonts, no CDN, no analytics), so it works offline.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import gradio as gr

from assistant.app.service import AssistantService
from assistant.core.errors import AssistantError
from assistant.core.messages import error
from assistant.core.settings import Settings, offline_env
from assistant.core.types import DOC_KINDS, KIND_LABELS, MODE_LABELS, MODES, Answer
from assistant.faces.ui import render

log = logging.getLogger(__name__)

TITLE = "全面从严治党知识库助手"
EXAMPLES = ["一岗双责要求我做什么？", "党委主体责任包括哪些内容？", "纪委的监督责任是什么？"]
MODE_CHOICES = [(MODE_LABELS[m], m) for m in MODES]
KINDS = [("自动识别", ""), *((KIND_LABELS[k], k) for k in DOC_KINDS)]
DOC_HEADERS = ["文件", "标题", "类型", "版本", "条块数"]

# Local font files shipped with gradio first, then CJK system fonts (fonts-noto-cjk on Debian); never a web font.
THEME_FONTS: list[gr.themes.Font | str] = [
    gr.themes.LocalFont("Source Sans Pro", weights=(400, 600)),
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "ui-sans-serif",
    "sans-serif",
]

CSS = """
.answer, .question { line-height: 1.7; }
.answer .cite { position: relative; color: var(--color-accent); font-weight: 600; cursor: pointer;
  font-size: 0.8em; vertical-align: super; padding: 0 1px; outline: none; }
.answer .cite .cite-pop { display: none; position: absolute; left: 0; top: 1.6em; z-index: 50; width: min(28em, 70vw);
  padding: 8px 10px; border-radius: 6px; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-primary); color: var(--body-text-color); font-weight: 400; font-size: 13px;
  line-height: 1.6; vertical-align: baseline; box-shadow: 0 4px 14px rgba(0,0,0,.18); white-space: normal; }
.answer .cite:hover .cite-pop, .answer .cite:focus .cite-pop, .answer .cite:focus-within .cite-pop { display: block; }
.answer a.cite { text-decoration: none; }
.src-turn > summary { cursor: pointer; font-weight: 600; margin: 4px 0; }
.src-turn[open] > summary { color: var(--color-accent); }
.answer .unsupported { color: #b45309; }
.answer.refused { color: var(--body-text-color-subdued); }
.outcome { display: inline-block; font-size: 0.8em; padding: 0 6px; margin-bottom: 4px; border-radius: 4px; }
.outcome-answer { background: #e6f4ea; color: #1e6b34; }
.outcome-related { background: #fff4e0; color: #8a5300; }
.outcome-none { background: #eee; color: #555; }
.understood { font-size: 0.8em; color: var(--body-text-color-subdued); }
.answer .cite-list { margin-top: 8px; font-size: 0.9em; }
.answer .cite-list summary { cursor: pointer; color: var(--body-text-color-subdued); }
.answer .cursor { opacity: .6; }
.error { color: #b91c1c; }
.sources { display: flex; flex-direction: column; gap: 10px; }
.sources.empty, .src-none { color: var(--body-text-color-subdued); padding: 8px; }
.src { border: 1px solid var(--border-color-primary); border-left: 4px solid var(--color-accent); border-radius: 6px; padding: 8px 10px; }
.src.superseded { border-left-color: #d97706; }
.src-head { font-weight: 600; }
.src-n { color: var(--color-accent); font-weight: 600; }
.src-quote { margin: 6px 0; padding: 4px 10px; border-left: 3px solid var(--border-color-primary);
  color: var(--body-text-color); background: var(--background-fill-secondary); white-space: normal; }
.src-meta { font-size: 12px; color: var(--body-text-color-subdued); }
.src-old, .src-warn { color: #92400e; background: #fef3c7; border-radius: 4px; padding: 4px 8px; margin: 4px 0; font-size: 13px; }
.src-other summary { cursor: pointer; color: var(--body-text-color-subdued); }
.kb-stats, .kb-result { padding: 6px 2px; }
.kb-failures { color: #b91c1c; }
.kb-job, .kb-progress { color: #8a5300; padding: 4px 2px; }
#app-header h1 { margin: 0; font-size: 1.5em; }
#app-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); }
"""

# Copies what the reader sees of the last answer (markers and quote list included, hidden pop-ups not).
COPY_JS = """() => {
  const all = document.querySelectorAll('#chatbot .answer');
  if (all.length) navigator.clipboard.writeText(all[all.length - 1].innerText);
}"""

Turn = dict  # {"q": question, "a": answer text with [n] ("" on error), "html": the rendered bubble}


def _history(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    return [(t["q"], t["a"]) for t in turns if t.get("a")]


def _messages(turns: Sequence[Turn], pending: tuple[str, str] | None = None) -> list[dict]:
    msgs: list[dict] = []
    for t in turns:
        msgs += [{"role": "user", "content": render.user_html(t["q"])}, {"role": "assistant", "content": t["html"]}]
    if pending:
        msgs += [{"role": "user", "content": render.user_html(pending[0])}, {"role": "assistant", "content": pending[1]}]
    return msgs


def _message(e: AssistantError) -> str:
    return f"{e.message} — {e.fix}" if e.fix else e.message


INTERNAL_ERROR = "内部错误，本次操作未完成（详情已写入服务器日志） — 请重试；反复出现时把服务器终端的日志发给维护人员"


def internal_error(what: str, service: AssistantService | None = None) -> str:
    """The one line the page shows for an unexpected error: a damaged index file with its repair, else
    INTERNAL_ERROR. The traceback goes to the server log, never to the page."""
    log.exception("unexpected error in %s", what)
    if service is not None:
        damage = service.diagnose()
        if damage is not None:
            return _message(damage)
    return INTERNAL_ERROR


def guarded(fn: Callable, service: AssistantService | None = None) -> Callable:
    """An event handler whose errors reach the page as one Chinese line: AssistantError as it is, anything else
    as INTERNAL_ERROR with the traceback logged. gr.Error passes unchanged."""
    import functools
    import inspect

    def convert(e: BaseException) -> gr.Error:
        if isinstance(e, AssistantError):
            return gr.Error(_message(e))
        return gr.Error(internal_error(getattr(fn, "__name__", "handler"), service))

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as e:  # noqa: BLE001 - the UI boundary: logged with its traceback by internal_error
                raise convert(e) from None

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:  # noqa: BLE001 - the UI boundary: logged with its traceback by internal_error
            raise convert(e) from None

    return wrapper


def parse_history(history: object) -> list[tuple[str, str]]:
    """The /ask API's history, [[question, answer], ...] (or null); anything else is one Chinese error line."""
    if history is None or history == "":
        return []
    fix = "history 应为 [[问题, 回答], …] 或 null，每项恰好两个字符串"
    if not isinstance(history, (list, tuple)):
        raise AssistantError(f"history 格式不对：应为列表，收到 {type(history).__name__}", fix)
    pairs: list[tuple[str, str]] = []
    for n, item in enumerate(history, 1):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise AssistantError(f"history 第 {n} 项格式不对：应为 [问题, 回答] 两项，收到 {str(item)[:40]!r}", fix)
        q, a = item
        if not all(x is None or isinstance(x, str) for x in (q, a)):
            raise AssistantError(f"history 第 {n} 项格式不对：问题和回答都应是字符串", fix)
        pairs.append((q or "", a or ""))
    return pairs


def ask_api(service: AssistantService, question: str, history: object = None, mode: str = "") -> dict:
    """The /ask endpoint: validated input, the answer as a dict, every error as one Chinese line (gr.Error)."""
    try:
        if not isinstance(question, str):
            raise AssistantError("question 应为字符串", "把问题作为文字传入")
        if mode and mode not in MODES:
            raise AssistantError(f"mode 的值 {mode!r} 无效", "用 bm25、vector、hybrid 之一，或留空用默认方式")
        return service.ask(question, parse_history(history), mode or None).to_dict()
    except AssistantError as e:
        raise gr.Error(_message(e)) from None
    except Exception:  # noqa: BLE001 - the API boundary: logged with its traceback by internal_error
        raise gr.Error(internal_error("/ask", service)) from None


def _chat_fn(
    service: AssistantService,
    on_answer: Callable[[str, Answer], dict] | None = None,
    on_error: Callable[[str, Exception], None] | None = None,
):
    """The chat's respond and regenerate handlers. ``on_answer(question, answer)`` (the office's history and audit)
    returns extra keys for the saved turn; ``on_error(question, error)`` hears of a question that got no answer."""

    def respond(question: str, turns: list[Turn], mode: str) -> Iterator[tuple]:
        """Stream one answer; yields (chatbot messages, turns, sources panel)."""
        turns = list(turns or [])
        question = (question or "").strip()
        if not question:
            yield _messages(turns), turns, gr.skip()
            return
        yield _messages(turns, (question, render.streaming_html("正在检索知识库…"))), turns, render.sources_pending()
        text = ""
        answer: Answer | None = None
        shown = ""  # a provisional answer (the extractive one while the model writes), shown at once above the model's text
        try:
            for item in service.stream_ask(question, _history(turns), mode or None):
                if isinstance(item, Answer) and item.provisional:
                    shown = render.answer_html(item)
                    yield _messages(turns, (question, shown)), turns, render.sources_html(item)
                elif isinstance(item, Answer):
                    answer = item
                else:
                    text += item
                    yield _messages(turns, (question, shown + render.streaming_html(text))), turns, gr.skip()
        except AssistantError as e:
            if on_error:
                on_error(question, e)
            turns.append({"q": question, "a": "", "html": render.error_html(_message(e))})
            yield _messages(turns), turns, render.conversation_sources_html(turns)
            return
        except Exception as e:  # noqa: BLE001 - the UI boundary: logged with its traceback, the page gets one line
            if on_error:
                on_error(question, e)
            turns.append({"q": question, "a": "", "html": render.error_html(internal_error("chat", service))})
            yield _messages(turns), turns, render.conversation_sources_html(turns)
            return
        if answer is None:  # an answerer that ends without its Answer broke the protocol
            raise gr.Error("回答生成中断，请重试。")
        turn = {"q": question, "a": answer.text, "html": render.answer_html(answer), "sources": render.sources_html(answer)}
        turns.append({**turn, **(on_answer(question, answer) if on_answer else {})})
        yield _messages(turns), turns, render.conversation_sources_html(turns)  # every answer's sources, per question

    def regenerate(turns: list[Turn], mode: str) -> Iterator[tuple]:
        if not turns:
            yield [], [], render.sources_html(None)
            return
        yield from respond(turns[-1]["q"], turns[:-1], mode)

    return respond, regenerate


def _kb_view(service: AssistantService) -> tuple:
    docs = service.documents()
    return (
        render.stats_html(service.stats()),
        render.document_rows(docs),
        gr.Dropdown(choices=[d.path for d in docs], value=None),
    )


def _progress_cb(progress: gr.Progress) -> Callable[[float, str], None]:
    def note(frac: float, desc: str) -> None:
        progress(frac, desc=desc)

    return note


def _build_chat_tab(service: AssistantService, office=None, demo: gr.Blocks | None = None) -> None:
    """The 问答 tab; ``office`` (history.OfficePage) adds the knowledge-base choice, feedback and saved history."""
    respond, regenerate = _chat_fn(service)
    limit = service.settings.ui_concurrency  # questions answered at once; the read path is thread-safe
    with gr.Tab("问答", id="chat"), gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="对话",
                elem_id="chatbot",
                height=560,
                latex_delimiters=[],  # a stray $ in a regulation must not become math
                feedback_options=("Like", "Dislike") if office else None,
                sanitize_html=True,
                # gradio's copy buttons copy the raw HTML and "share" posts online; "复制回答" copies the visible text instead
                buttons=[],
                placeholder="请输入关于全面从严治党、主体责任、一岗双责、党风廉政建设的问题。",
            )
            with gr.Row():
                question = gr.Textbox(
                    show_label=False, placeholder="输入问题，回车发送", elem_id="question", scale=6, lines=1, max_lines=4, autofocus=True
                )
                send = gr.Button("发送", variant="primary", elem_id="send", scale=1, min_width=80)
            with gr.Row():
                regen = gr.Button("重新生成", elem_id="regenerate", size="sm")
                clear = gr.Button("清空对话", elem_id="clear", size="sm")
                copy = gr.Button("复制回答", elem_id="copy", size="sm")
                mode = gr.Dropdown(MODE_CHOICES, value=service.settings.mode, label="检索方式", scale=2, min_width=160)
            if office:
                office.build_chat_extras()
            gr.Examples(EXAMPLES, inputs=question, label="示例问题")
        with gr.Column(scale=2, min_width=300):
            gr.Markdown("#### 来源条文")
            sources = gr.HTML(render.sources_html(None), elem_id="sources", js_on_load=None)
        # Inside the tab: a State left directly under gr.Tabs renders as a phantom tab.
        turns = gr.State([])
        pending = gr.State("")
    if office:
        office.wire_chat(demo, chatbot, question, send, regen, clear, mode, sources, turns, pending)
        return

    outs = [chatbot, turns, sources]
    for trigger in (question.submit, send.click):
        trigger(lambda q: ("", q), question, [question, pending], queue=False, api_visibility="private").then(
            respond, [pending, turns, mode], outs, api_visibility="private", concurrency_limit=limit, concurrency_id="answer"
        )
    for trigger in (regen.click, chatbot.retry):
        trigger(regenerate, [turns, mode], outs, api_visibility="private", concurrency_limit=limit, concurrency_id="answer")
    copy.click(None, js=COPY_JS)
    def reset() -> tuple[list, list, str, str]:
        return [], [], render.sources_html(None), ""

    for trigger in (clear.click, chatbot.clear):
        trigger(reset, None, [chatbot, turns, sources, question], queue=False, api_visibility="private")


def _build_kb_tab(service: AssistantService, office=None) -> tuple[Callable[[], tuple], list]:
    """The 知识库 tab; with ``office`` (office_ui.OfficeUI) only the knowledge base's editors and admins change it."""

    def may_edit(request: gr.Request | None) -> None:
        if office is not None:
            office.editor(request, service.settings.kb)

    with gr.Tab("知识库", id="kb"):
        stats = gr.HTML(elem_id="kb-stats", js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                files = gr.File(label="上传文件（.md .txt .docx .pdf .xlsx .csv .html；扫描件 .pdf .png .jpg .tif 自动文字识别）", file_count="multiple", elem_id="kb-upload")
                kind = gr.Dropdown(KINDS, value="", label="文件类型")
                with gr.Row():
                    add = gr.Button("导入知识库", variant="primary", elem_id="kb-add")
                    cancel = gr.Button("取消导入", elem_id="kb-cancel", size="sm")
                progress_line = gr.HTML(elem_id="kb-progress", js_on_load=None)
                result = gr.HTML(elem_id="kb-result", js_on_load=None)
            with gr.Column(scale=3):
                table = gr.Dataframe(headers=DOC_HEADERS, value=[], interactive=False, elem_id="kb-docs", wrap=True)
                with gr.Row():
                    target = gr.Dropdown([], elem_id="kb-target", label="移除文件（上传的文件被删除；知识库目录中的文件只从索引中排除）", scale=3)
                    remove = gr.Button("移除", variant="stop", elem_id="kb-remove", scale=1)
                with gr.Row():
                    refresh = gr.Button("刷新", size="sm")
                    update = gr.Button("更新索引（知识库文件夹有改动时）", size="sm", elem_id="kb-update")

    def view() -> tuple:
        return _kb_view(service)

    def add_files(paths: list[str] | None, kind: str, request: gr.Request) -> Iterator[tuple]:
        """Start the import as a background job (the index keeps answering), show its progress, then its report."""
        may_edit(request)
        if not paths:
            raise gr.Error("请先选择要上传的文件。")
        files = [Path(p) for p in paths]
        names = "、".join(p.name for p in files[:3]) + (f" 等 {len(files)} 个文件" if len(files) > 3 else "")
        try:
            yield from follow(f"导入 {names}", lambda progress: service.add_files(files, kind, progress=progress), with_files=True)
        finally:
            for p in files:  # gradio's copy is no longer needed: the upload is in the knowledge base's uploads/ now
                p.unlink(missing_ok=True)

    def follow(what: str, run: Callable, with_files: bool = False, done: str = "") -> Iterator[tuple]:
        """Run ``run(progress)`` as the knowledge base's background job; yield its progress line, then its report."""
        try:
            job = service.jobs.start(what, run)
        except AssistantError as e:
            raise gr.Error(_message(e)) from e
        files_out = (None,) if with_files else ()
        while not job.wait(0.5):
            yield (f'<div class="kb-progress">{render.escape(job.status())}</div>', gr.skip(), *(gr.skip(),) * len(files_out), *(gr.skip(),) * 3)
        if job.state != "done" or job.report is None:
            yield ("", render.ingest_html(job.status(), []), *files_out, *view())
            return
        report = job.report
        failures = [*report.warnings, *(f.error for f in report.failures)]
        yield ("", render.ingest_html(done + report.summary(), failures), *files_out, *view())

    def update_index(request: gr.Request) -> Iterator[tuple]:
        may_edit(request)
        yield from follow("更新知识库文件夹", lambda progress: service.ingest(progress=progress, show_bar=False))

    def cancel_job(request: gr.Request) -> str:
        may_edit(request)
        return render.escape("已请求取消，正在停止…") if service.jobs.cancel() else render.escape("当前没有正在进行的导入。")

    def remove_file(rel: str | None, request: gr.Request) -> Iterator[tuple]:
        may_edit(request)
        if not rel:
            raise gr.Error("请先选择要移除的文件。")
        yield from follow(f"移除 {rel}", lambda progress: service.remove_file(rel, progress=progress), done=f"已移除 {rel}。")

    kb_outs = [stats, table, target]
    add.click(guarded(add_files, service), [files, kind], [progress_line, result, files, *kb_outs], api_visibility="private")
    cancel.click(guarded(cancel_job, service), None, progress_line, queue=False, api_visibility="private")
    remove.click(guarded(remove_file, service), target, [progress_line, result, *kb_outs], api_visibility="private")
    update.click(guarded(update_index, service), None, [progress_line, result, *kb_outs], api_visibility="private")
    refresh.click(guarded(view, service), None, kb_outs, api_visibility="private")
    return view, kb_outs


_UPLOAD_DIR: list[str] = []


def upload_dir() -> str:
    """This process's own folder for gradio's uploads (GRADIO_TEMP_DIR), instead of the shared /tmp/gradio: private
    (0700), emptied on a schedule by the Blocks' delete_cache and removed when the process exits."""
    if not _UPLOAD_DIR:
        path = tempfile.mkdtemp(prefix="party-assistant-uploads-")
        atexit.register(shutil.rmtree, path, True)
        _UPLOAD_DIR.append(path)
    os.environ["GRADIO_TEMP_DIR"] = _UPLOAD_DIR[0]
    return _UPLOAD_DIR[0]


def job_status(service: AssistantService) -> str:
    """The index-update line under the header: 正在更新索引… while a background ingest runs, else nothing."""
    job = service.jobs.running
    return f'<div class="kb-job">{render.escape(job.status())}</div>' if job is not None else ""


def build_app(service: AssistantService, extra_tabs: Sequence[Callable[[AssistantService], None]] = (), office=None) -> gr.Blocks:
    """The whole UI. ``extra_tabs`` are ``fn(service)`` callables that add their own gr.Tab inside the app. ``office``
    (office_ui.OfficeUI, when the office has accounts): logins with the accounts, the user's knowledge bases, history,
    feedback and the admin tabs."""
    offline_env()
    page = None
    if office is not None:
        from assistant.faces.ui.history import OfficePage

        page = OfficePage(office)
    upload_dir()
    age = int(service.settings.upload_max_age_hours * 3600)
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(min(age, 3600), age)) as demo:
        gr.HTML(
            f"<h1>{TITLE}</h1><p>回答只依据知识库中的文件，每句标注来源；把鼠标移到 [n] 上或点击它可查看原文。</p>",
            elem_id="app-header",
            js_on_load=None,
        )
        status = gr.HTML(job_status(service), elem_id="index-status", js_on_load=None)
        gr.Timer(2.0).tick(lambda: job_status(service), None, status, queue=False, api_visibility="private", show_progress="hidden")
        if page:
            page.build_sidebar()
        with gr.Tabs():
            _build_chat_tab(service, page, demo)
            kb_view, kb_outs = _build_kb_tab(service, office)
            for add_tab in extra_tabs:
                add_tab(service)
            if page:
                page.build_admin_tabs(demo)
        demo.load(guarded(kb_view, service), None, kb_outs, api_visibility="private")

        def ask(question: str, history: list[list[str]] | None = None, mode: str = "", request: gr.Request = None) -> dict:  # type: ignore[assignment]
            """Answer one question from the knowledge base; history is [[question, answer], ...]."""
            if page:
                return guarded(page.ask)(question, history, mode, request)
            return ask_api(service, question, history, mode)

        gr.api(ask, api_name="ask")
    demo.office_ui = office  # type: ignore[attr-defined]  # launch() takes the logins from it
    demo.doc_service = service  # type: ignore[attr-defined]  # launch() serves its 原文 pages (/doc/…) beside the UI
    return demo


def launch_kwargs(settings: Settings, office=None) -> dict:
    """Arguments for Blocks.launch: local only, no share link, no SSR/node; logins with the office accounts
    (``office``: office_ui.OfficeUI), else the optional single ASSISTANT_AUTH_* login. Off loopback a login is required."""
    kwargs: dict = {
        "server_name": settings.host,
        "server_port": settings.port,
        "share": False,
        "inbrowser": False,
        "ssr_mode": False,
        "pwa": False,
        "mcp_server": False,
        "enable_monitoring": False,
        "show_error": True,
        "footer_links": ["api", "settings"],
        "theme": gr.themes.Default(primary_hue="red", font=THEME_FONTS),
        "css": CSS,
        "max_file_size": f"{settings.max_upload_mb}mb",
    }
    if office is not None:
        return {**kwargs, **office.launch_kwargs()}
    user, password = settings.auth_user, settings.auth_password.get_secret_value()
    if bool(user) != bool(password):
        raise error("login_incomplete")
    if user:
        kwargs["auth"] = (user, password)
        kwargs["auth_message"] = "请输入用户名和密码"
    elif settings.host.strip() not in ("127.0.0.1", "localhost", "::1"):
        raise error("login_required", host=settings.host)
    return kwargs


def launch(demo: gr.Blocks, settings: Settings, **overrides) -> tuple:
    """Start the server; overrides (e.g. prevent_thread_lock=True in tests) win over launch_kwargs."""
    offline_env()
    demo.queue(default_concurrency_limit=settings.ui_concurrency)
    kwargs = {**launch_kwargs(settings, getattr(demo, "office_ui", None)), **overrides}
    service = getattr(demo, "doc_service", None)
    if service is not None:  # the 原文 and 版本对比 pages the citations link to, behind the same login as the UI
        from assistant.faces.web.doc_page import routes

        kwargs["app_kwargs"] = {**kwargs.get("app_kwargs", {}), "routes": routes(service, getattr(demo, "office_ui", None))}
    return demo.launch(**kwargs)
