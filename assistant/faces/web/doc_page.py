"""The 原文 and 版本对比 pages: self-contained HTML (inline CSS, no script, nothing loaded from elsewhere).

- ``GET /doc/{doc_id}``: the whole document as indexed, one anchor per article (``id="第N条"``), chapter headings,
  the status banner (现行有效 / 旧版 with its successor / 已废止), the other versions, a download link;
  ``?hl=<quote>`` highlights the quoted sentence. A citation links here as ``/doc/<doc_id>?hl=<quote>#第N条``
  (a saved citation names the chunk id instead, with ``&src=<file>`` for when that chunk has changed since). The URL is stable while the file keeps its path.
- ``GET /doc/{doc_id}/file``: the original file, only a file of the knowledge base (looked up by id, never by path).
- ``GET /versions/{title}?from=2018&to=2024``: two indexed versions side by side, article by article, with
  新增/删除/修改 and the character diff.

``doc_router(service_for)`` builds the routes; ``service_for`` is a FastAPI dependency giving the knowledge base's
service for a request (and refusing one the user may not read). The Gradio server mounts it with one service
(``mount``), the office API with the user's knowledge bases (``?kb=``).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from assistant.app.documents import (
    ArticleView,
    DocumentView,
    VersionLink,
    document_file,
    document_view,
    holds_document,
    version_diff,
    version_links,
)
from assistant.app.service import AssistantService
from assistant.core.errors import AssistantError
from assistant.core.types import KIND_LABELS, UPLOAD_NOTE

# Nothing but the page itself and inline styles: document text is untrusted (an upload may hold markup).
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

CSS = """
body { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", "Source Han Serif SC", SimSun, serif; margin: 0; color: #1f2328;
  background: #f6f7f9; line-height: 1.9; }
main { max-width: 860px; margin: 0 auto; background: #fff; padding: 24px 36px 80px; min-height: 100vh; }
h1 { font-size: 1.6em; text-align: center; margin: 8px 0 4px; }
.meta { text-align: center; color: #57606a; font-size: 14px; }
.meta a, nav a { color: #0b57d0; }
.banner { margin: 14px 0; padding: 8px 14px; border-radius: 6px; font-size: 15px; }
.banner.current { background: #e6f4ea; color: #1e6b34; }
.banner.old { background: #fef3c7; color: #92400e; }
.banner.repealed { background: #fde2e1; color: #9f1d1d; }
.banner.upload { background: #eef2ff; color: #3730a3; }
h2.path { font-size: 1.15em; text-align: center; margin: 28px 0 8px; }
section.art { padding: 6px 10px; margin: 2px -10px; border-radius: 6px; scroll-margin-top: 12px; }
section.art:target { background: #fff8dc; outline: 2px solid #e0b400; }
section.art p { margin: 0 0 6px; text-indent: 2em; }
.num { font-weight: 700; }
mark.hl { background: #ffe066; padding: 0 1px; }
.vlink { font-size: 13px; color: #92400e; text-align: right; }
.vlink a { color: #92400e; }
table.cmp { width: 100%; border-collapse: collapse; font-size: 14px; }
table.cmp td, table.cmp th { border: 1px solid #d0d7de; padding: 6px 8px; vertical-align: top; }
table.cmp td.st { white-space: nowrap; font-weight: 600; }
tr.s-新增 td.st { color: #1e6b34; } tr.s-删除 td.st { color: #9f1d1d; } tr.s-修改 td.st { color: #92400e; }
tr.s-未变 { color: #57606a; }
del { background: #fde2e1; color: #9f1d1d; } ins { background: #dcfce7; color: #166534; text-decoration: none; }
.counts { text-align: center; margin: 10px 0 16px; }
.error { max-width: 640px; margin: 80px auto; padding: 16px; background: #fff; border-left: 4px solid #b91c1c; }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, '
           f'initial-scale=1"><title>{_e(title)}</title><style>{CSS}</style></head><body>{body}</body></html>')  # fmt: skip
    return HTMLResponse(doc, status, headers=HEADERS)


def _error(e: AssistantError, status: int = 404) -> HTMLResponse:
    fix = f"<p>{_e(e.fix)}</p>" if e.fix else ""
    return _page("未找到", f'<div class="error"><p><b>{_e(e.message)}</b></p>{fix}</div>', status)


def _with_kb(path: str, request: Request, **params: str) -> str:
    """A link to another page of this router, keeping the knowledge base the request named (?kb=)."""
    query = {k: v for k, v in {"kb": request.query_params.get("kb", ""), **params}.items() if v}
    return path + (f"?{urlencode(query)}" if query else "")


def highlight(text: str, quote_text: str) -> str:
    """Escaped paragraphs of ``text`` with every occurrence of ``quote_text`` in <mark class="hl">."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if not quote_text or quote_text not in text:
        return "".join(f"<p>{_e(p)}</p>" for p in paragraphs)
    # Mark in the whole text first (a quote may run over a line break), then cut into paragraphs.
    marked, pos = [], 0
    while (i := text.find(quote_text, pos)) >= 0:
        marked.append(_e(text[pos:i]))
        inner = "".join(f'<mark class="hl">{_e(part)}</mark>' if part else "" for part in text[i : i + len(quote_text)].split("\n"))
        marked.append(inner.replace('</mark><mark class="hl">', '</mark>\n<mark class="hl">'))
        pos = i + len(quote_text)
    marked.append(_e(text[pos:]))
    return "".join(f"<p>{p}</p>" for p in "".join(marked).split("\n") if p.strip())


def _article_html(a: ArticleView, hl: str, link: VersionLink | None, request: Request) -> str:
    anchor = f' id="{_e(a.article)}"' if a.article else ""
    note = ""
    if link is not None and link.doc_id:
        href = _with_kb(f"/doc/{link.doc_id}", request) + f"#{quote(link.article, safe='')}"
        note = f'<div class="vlink"><a href="{_e(href)}">{_e(link.text)}</a></div>'
    elif link is not None:
        note = f'<div class="vlink">{_e(link.text)}</div>'
    return f'<section class="art"{anchor}>{highlight(a.text, hl)}{note}</section>'


def _banner(view: DocumentView, request: Request) -> str:
    parts = []
    if view.status == "已废止":
        parts.append('<div class="banner repealed">已废止：本文件仍可查阅，但不再作为回答的依据。</div>')
    elif view.status == "旧版":
        to = f'（<a href="{_e(_with_kb(f"/doc/{view.successor_id}", request))}">查看新版</a>）' if view.successor_id else ""
        parts.append(f'<div class="banner old">旧版：已被{_e(view.successor or "新版")}取代，请以现行版本为准{to}。</div>')
    else:
        parts.append('<div class="banner current">现行有效</div>')
    if view.provenance == "upload":
        parts.append(f'<div class="banner upload">{_e(UPLOAD_NOTE)}</div>')
    return "".join(parts)


def document_html(view: DocumentView, request: Request, hl: str = "", links: dict[str, VersionLink] | None = None) -> str:
    """The body of the 原文 page; ``links``: per article, its counterpart in the neighbouring version."""
    kind = KIND_LABELS.get(view.kind, view.kind)
    version = f"（{_e(view.version)}年版）" if view.version else ""
    download = _e(_with_kb(f"/doc/{view.doc_id}/file", request))
    meta = [f"{_e(kind)}", f"来源文件：{_e(view.source)}", f'<a href="{download}" download>下载原文件</a>']
    if len(view.versions) > 1:
        others = " ".join(
            f'<a href="{_e(_with_kb(f"/doc/{i}", request))}">{_e(v)}年版</a>' if i != view.doc_id else f"<b>{_e(v)}年版</b>"
            for v, i in view.versions
        )
        old, new = view.versions[-2][0], view.versions[-1][0]
        cmp = _e(_with_kb(f"/versions/{quote(view.title, safe='')}", request, **{"from": old[:4], "to": new[:4]}))
        meta.append(f'各版本：{others} · <a href="{cmp}">版本对比</a>')
    parts = [f"<main><h1>{_e(view.title)}{version}</h1><div class=\"meta\">{' · '.join(meta)}</div>", _banner(view, request)]
    path: tuple[str, ...] = ()
    for a in view.articles:
        if a.path != path and a.path:
            parts.append(f'<h2 class="path">{_e(" ".join(a.path))}</h2>')
        path = a.path
        parts.append(_article_html(a, hl, (links or {}).get(a.article), request))
    parts.append("</main>")
    return "".join(parts)


def _diff_sides(c) -> tuple[str, str]:
    old = "".join(_e(t) if op == "=" else f"<del>{_e(t)}</del>" for op, t in c.diff if op != "+")
    new = "".join(_e(t) if op == "=" else f"<ins>{_e(t)}</ins>" for op, t in c.diff if op != "-")
    return old.replace("\n", "<br>"), new.replace("\n", "<br>")


def versions_html(diff, old: DocumentView, new: DocumentView, request: Request, changed_only: bool) -> str:
    """The body of the 版本对比 page: a row per aligned pair, unmatched articles as 新增/删除."""
    counts = "，".join(f"{k} {v} 条" for k, v in diff.counts.items())

    def link(view: DocumentView, number: str) -> str:
        return f'<a href="{_e(_with_kb(f"/doc/{view.doc_id}", request))}#{_e(quote(number, safe=""))}">{_e(number)}</a>'

    rows = []
    for c in diff.changes:
        if changed_only and c.status == "未变":
            continue
        left = link(old, c.old.number) if c.old else ""
        right = link(new, c.new.number) if c.new else ""
        if c.status == "修改" or (c.status == "新增" and c.source is not None):
            old_text, new_text = _diff_sides(c)
            if c.status == "新增":
                left = f"（由{link(old, c.source.number)}拆分而来）"
        else:
            old_text = _e(c.old.text).replace("\n", "<br>") if c.old else ""
            new_text = _e(c.new.text).replace("\n", "<br>") if c.new else ""
            if c.status == "未变":
                old_text, new_text = "", "（内容未变）" if c.old.number == c.new.number else "（内容未变，仅条号变化）"
        rows.append(f'<tr class="s-{c.status}"><td class="st">{c.status}</td><td>{left}</td><td>{old_text}</td><td>{right}</td><td>{new_text}</td></tr>')
    toggle = _with_kb(f"/versions/{quote(diff.title, safe='')}", request, **{"from": diff.old_year, "to": diff.new_year, "changed": "" if changed_only else "1"})
    return (
        f"<main><h1>《{_e(diff.title)}》版本对比</h1>"
        f'<div class="meta">{_e(diff.old_year)}年版 → {_e(diff.new_year)}年版 · <a href="{_e(toggle)}">{"显示全部条文" if changed_only else "只看变化"}</a></div>'
        f'<div class="counts">{_e(counts)}</div>'
        f'<table class="cmp"><thead><tr><th>变化</th><th>{_e(diff.old_year)}年版</th><th>原文</th><th>{_e(diff.new_year)}年版</th><th>现文</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></main>"
    )


def doc_router(service_for: Callable[..., AssistantService]) -> APIRouter:
    """The /doc and /versions routes over the service ``service_for`` (a FastAPI dependency) gives for a request."""
    router = APIRouter()

    @router.get("/doc/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
    def doc_page(request: Request, doc_id: str, hl: str = "", src: str = "", service: AssistantService = Depends(service_for)) -> HTMLResponse:  # noqa: B008
        try:
            view = document_view(service, doc_id, src)
        except AssistantError as e:
            return _error(e)
        return _page(view.title, document_html(view, request, hl[:2000], version_links(service, view)))

    @router.get("/doc/{doc_id}/file", include_in_schema=False)
    def doc_file(doc_id: str, service: AssistantService = Depends(service_for)):  # noqa: B008
        try:
            view = document_view(service, doc_id)
            path = document_file(service, view)
        except AssistantError as e:
            return _error(e)
        return FileResponse(path, filename=path.name, headers={"X-Content-Type-Options": "nosniff"})

    @router.get("/versions/{title}", response_class=HTMLResponse, include_in_schema=False)
    def versions_page(
        request: Request,
        title: str,
        old: str = Query(..., alias="from"),
        new: str = Query(..., alias="to"),
        changed: str = "",
        service: AssistantService = Depends(service_for),  # noqa: B008
    ) -> HTMLResponse:
        try:
            diff, a, b = version_diff(service, title.strip("《》"), old, new)
        except AssistantError as e:
            return _error(e)
        return _page(f"《{diff.title}》版本对比", versions_html(diff, a, b, request, bool(changed)))

    return router


def gradio_login(service: AssistantService, office: Any = None) -> Callable[[Request], AssistantService]:
    """The dependency for the Gradio server: its service, behind the page's own login when it has one (the session
    cookie Gradio set at login). Fails closed: a login it cannot check is refused.

    With the office's accounts (``office``: faces.ui.office_ui.OfficeUI) only the user's readable knowledge bases:
    the one ``?kb=`` names, else the one holding the document (a chat citation's link names no knowledge base)."""

    def dependency(request: Request) -> AssistantService:
        app = request.app
        auth, auth_dependency = getattr(app, "auth", None), getattr(app, "auth_dependency", None)
        if auth is None and auth_dependency is None:
            return service
        user = None
        if auth_dependency is not None:
            user = auth_dependency(request)
        else:
            cookie_id = getattr(app, "cookie_id", "")
            token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(f"access-token-unsecure-{cookie_id}")
            user = getattr(app, "tokens", {}).get(token) if token else None
        if not user:
            raise HTTPException(401, "请先登录网页（刷新主页面并登录）后再打开原文链接")
        return service if office is None else _office_service(office, str(user), request)

    return dependency


def _office_service(office: Any, name: str, request: Request) -> AssistantService:
    try:
        user = office.user(SimpleNamespace(username=name))
        wanted = request.query_params.get("kb", "")
        if wanted:
            return office.services.get(office.pick_kb(user, wanted))
        ref = request.path_params.get("doc_id", "")
        for kb in office.readable(user) if ref else ():
            candidate = office.services.get(kb)
            if holds_document(candidate, ref):
                return candidate
        return office.services.get(office.pick_kb(user, None))
    except AssistantError as e:
        raise HTTPException(403, f"{e.message} — {e.fix}") from None


def mount(app: FastAPI, service: AssistantService) -> None:
    """Add the 原文 and 版本对比 pages to a running Gradio server's FastAPI app."""
    app.include_router(doc_router(gradio_login(service)))


def routes(service: AssistantService, office: Any = None) -> list:
    """The same pages as routes for a FastAPI app built by someone else (Gradio's launch takes them in app_kwargs,
    so they are there before the server starts, whether launch blocks or not)."""
    return list(doc_router(gradio_login(service, office)).routes)
