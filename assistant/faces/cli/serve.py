"""`assistant serve`: open the web UI on this machine at once, and bring the index up to date in the background."""

from __future__ import annotations

import sys
import threading

from assistant.core.errors import AssistantError
from assistant.core.messages import error
from assistant.core.types import MODES
from assistant.faces.cli.main import EXTENSIONS, _service, command


def extra_tabs() -> list:
    """The tabs other features add to the web UI, after 问答 and 知识库."""
    from assistant.faces.ui.draft_tab import build_draft_tab
    from assistant.faces.ui.eval_tab import build_eval_tab

    return [build_eval_tab, build_draft_tab]


def _extend(sub) -> None:
    s = sub.add_parser("serve", help="start the web UI (http://127.0.0.1:7860) and update the index in the background")
    s.add_argument("--host", help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, help="port (default 7860)")
    s.add_argument("--no-ingest", dest="no_ingest", action="store_true", help="start with the index as it is")
    s.add_argument("--mode", choices=MODES)
    s.add_argument("--answerer", choices=["extractive", "llm"])


EXTENSIONS.append(_extend)


@command("serve")
def cmd_serve(args, settings) -> int:
    from assistant.core.messages import say
    from assistant.faces.ui.app import build_app, launch, launch_kwargs
    from assistant.faces.ui.office_ui import open_office_ui

    update = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = settings.model_copy(update=update)
    office = open_office_ui(settings)  # with accounts in the office database, the page logs in with them
    if office is not None and settings.auth_user:
        print(f"注意：{say('note_accounts_override_auth')}", file=sys.stderr)
    launch_kwargs(settings, office)  # fail on a missing or half-configured login before anything starts
    svc = _service(settings)
    if office is not None:
        office.services.add(svc)
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"注意：监听 {settings.host}，同一网络中的其他计算机可以访问本服务。", file=sys.stderr)
    demo = build_app(svc, extra_tabs(), office=office)
    try:
        _app, url, _ = launch(demo, settings, quiet=True, prevent_thread_lock=True)
    except OSError as e:  # gradio reports a busy port as OSError
        raise error("cannot_listen", host=settings.host, port=settings.port, detail=e) from e
    print(f"在浏览器中打开 {url}  （Ctrl-C 退出）", file=sys.stderr)
    # Listening already: the index is brought up to date in the background while the previous one answers.
    if args.no_ingest:
        threading.Thread(target=_warm_up, args=(svc,), daemon=True).start()
    else:
        print(f"正在更新索引：{settings.knowledge_dir}（更新期间由现有索引回答）", file=sys.stderr)
        def update_index(progress):
            _warm_up(svc)
            return svc.ingest(progress=progress, show_bar=False)

        job = svc.jobs.start("启动时更新", update_index)
        threading.Thread(target=_print_when_done, args=(job,), daemon=True).start()
    demo.block_thread()
    return 0


def _warm_up(svc) -> None:
    """Load the model, jieba and the index now, so the first question does not wait for them."""
    try:
        svc.search("全面从严治党")
    except AssistantError as e:
        print(f"注意：{e}", file=sys.stderr)


def _print_when_done(job) -> None:
    job.wait()
    report = job.report
    if report is not None:
        for w in report.warnings:
            print(f"注意：{w}", file=sys.stderr)
        for f in report.failures:
            print(f"跳过 {f.error}", file=sys.stderr)
    print(job.status(), file=sys.stderr)
