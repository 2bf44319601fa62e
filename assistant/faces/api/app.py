"""An OpenAI-compatible HTTP API over the assistant, for a whole office: per-user API keys, per-user knowledge bases.

Endpoints (all but /v1/login need ``Authorization: Bearer <key>``, a key from `assistant user key NAME`, or a
session token from /v1/login):

- ``GET /v1/models``: the knowledge bases this user may read, one "model" each (its id is the knowledge base name);
- ``POST /v1/chat/completions``: OpenAI's chat format, ``stream`` true or false. ``model`` names the knowledge base
  to search (it must be one of the user's; an empty model or ``party-assistant`` means the configured ``kb`` when
  readable, else the user's first). The last user message is the question, earlier turns shape the query.
  Besides OpenAI's fields the response (the last chunk when streaming) carries:
    - ``citations``: ``[{n, title, article, quote, chunk_id, superseded, label, version, source, kb}]``, [n] in the
      answer text refers to the citation with that ``n``; ``quote`` is verbatim text of the cited article;
    - ``outcome`` (answer | related | none) and ``outcome_label``; ``related``: articles shown as possibly relevant
      when there is no cited answer (same fields);
    - ``query``: the standalone query searched (a follow-up question completed from the earlier turns);
    - ``conversation_id`` and ``message_id``: where the turn was saved in the user's history. Send
      ``conversation_id`` back in the request body (``extra_body`` in the openai client) to continue that
      conversation; when the messages hold only the new question, the saved turns are its history (resuming).
  Streaming sends only verified text: the answer comes after verification (an LLM's draft is never sent), with
  SSE comment lines as keep-alives while the model writes.
- ``POST /v1/search``: ``{"query": …, "model" or "kb": …, "k": 6}`` → the retrieved chunks.
- ``GET /v1/conversations`` (``?q=`` searches), ``GET|DELETE /v1/conversations/{id}``,
  ``GET /v1/conversations/{id}/export?format=md|docx``, ``DELETE /v1/conversations``: the user's own history;
- ``POST /v1/feedback``: ``{"message_id", "rating": 1|-1, "comment", "correct_answer", "correct_article"}``;
- admins: ``GET /v1/admin/stats?days=30`` (questions per day, refusal rate, top and refused questions, slowest),
  ``GET /v1/admin/feedback?status=new``, ``POST /v1/admin/feedback/{id}/review`` ``{"accept", "note",
  "correct_article", "keypoints"}``, ``GET /v1/admin/audit.csv?days=N``;
- ``GET /doc/{doc_id}?kb=…&hl=…``, ``GET /doc/{doc_id}/file``, ``GET /versions/{title}?from=…&to=…``: the 原文 and
  版本对比 pages (faces/web/doc_page.py) of a knowledge base the user may read;
- ``POST /v1/login`` ``{"name", "password"}`` → a session ``token`` usable as the Bearer credential until
  ``expires_at`` (5 failures a minute for one name from one address → 429 with Retry-After); ``POST /v1/logout``.

Every call is written to the audit log (ask / search / auth_failed); every answered question is saved to the
user's history. Errors have OpenAI's shape: ``{"error": {"message", "type", "code"}}`` with Chinese messages.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.app.office import (
    KEY_PREFIX,
    CitationRecord,
    ConversationInfo,
    FeedbackInfo,
    LoginThrottled,
    Office,
    Services,
    Turn,
    UserInfo,
    citation_record,
    record_answer,
    record_failure,
    to_docx,
    to_markdown,
)
from assistant.core.errors import AssistantError
from assistant.core.settings import Settings
from assistant.core.types import OUTCOME_LABELS, PROVENANCE_LABELS, UPLOAD_NOTE, UPLOADS_PREFIX, Answer, Hit
from assistant.faces.web.doc_page import doc_router

DEFAULT_MODEL = "party-assistant"
OWNER = "party-discipline-assistant"
KEEPALIVE_SECONDS = 5.0


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, … are accepted and ignored
    model: str = ""
    messages: list[ChatMessage]
    stream: bool = False
    conversation_id: int | None = None


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    password: str


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept: bool
    note: str = ""
    correct_article: str | None = None
    keypoints: list[str] | None = None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_id: int
    rating: int
    comment: str = ""
    correct_answer: str = ""
    correct_article: str = ""


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str
    model: str = ""
    kb: str = ""
    k: int = Field(6, ge=1, le=50)
    mode: str | None = None


def provenance(source: str, superseded: bool) -> dict[str, str]:
    """Where a quoted text comes from (正式文件 / 用户上传) and its status (现行有效 / 旧版)."""
    upload = source.startswith(UPLOADS_PREFIX)
    return {"provenance": PROVENANCE_LABELS["upload" if upload else "official"], "status": "旧版" if superseded else "现行有效"}


def citation_json(r: CitationRecord) -> dict[str, Any]:
    label = r.label + (f"〔{UPLOAD_NOTE}〕" if r.source.startswith(UPLOADS_PREFIX) else "")
    return {**r.as_dict(), "label": label, **provenance(r.source, r.superseded)}


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")


def split_messages(messages: Sequence[ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The question (last user message) and the earlier (question, answer) pairs; system messages are ignored."""
    turns = [(m.role, _text(m.content).strip()) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1]:
        raise ApiError(400, "messages 的最后一条应是用户（role=user）的问题，且不能为空 — 把问题放在最后一条 user 消息中", "invalid_messages")
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for role, text in turns[:-1]:
        if role == "user":
            pending = text
        elif pending is not None:
            history.append((pending, text))
            pending = None
    return turns[-1][1], history


def create_app(settings: Settings, office: Office, services: Services | None = None) -> FastAPI:
    services = services or Services(settings)
    app = FastAPI(title="全面从严治党知识库助手 API", version="1", docs_url="/docs", redoc_url=None)
    app.state.office, app.state.services = office, services

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, e: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        return JSONResponse({"error": {"message": e.message, "type": e.kind, "code": e.code}}, e.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        path = request.url.path
        how = "按 OpenAI 的 chat completions 格式发送 JSON" if path.endswith("/chat/completions") else f"字段见 /openapi.json 中的 {path}"
        message = f"请求字段 {where or '（正文）'} 无效：{first.get('msg', '')} — {how}"
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": "invalid_request"}}, 400)

    def client(request: Request) -> str:
        return f"api {request.client.host if request.client else ''}".strip()

    def current_user(request: Request) -> UserInfo:
        """The user of the Bearer credential: an API key (pda-…) or a session token from POST /v1/login."""
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        user = None
        if scheme.lower() == "bearer" and credential:
            user = office.accounts.user_for_key(credential) if credential.startswith(KEY_PREFIX) else office.accounts.session_user(credential)
        if user is None:
            office.audit.append("auth_failed", client=client(request), detail=f"{request.method} {request.url.path}")
            raise ApiError(
                401,
                "API 密钥无效、已吊销或未提供（或登录已过期）— 在请求头写 Authorization: Bearer <密钥>；"
                "密钥由管理员用 `assistant user key 用户名` 生成，或用 POST /v1/login 重新登录",
                "invalid_api_key",
                "authentication_error",
            )
        return user

    @app.post("/v1/login")
    def login(req: LoginRequest, request: Request) -> JSONResponse:
        """Name and password → a session token (Bearer) that expires; failed logins are rate limited (429)."""
        ip = request.client.host if request.client else ""
        try:
            result = office.accounts.login(req.name, req.password, ip=ip)
        except LoginThrottled as e:
            office.audit.append("login_throttled", user_name=req.name, client=client(request), detail=e.message)
            return JSONResponse({"error": {"message": str(e), "type": "rate_limit_error", "code": "too_many_failures"}}, 429,
                                headers={"Retry-After": str(e.retry_after)})  # fmt: skip
        except AssistantError as e:
            office.audit.append("login_failed", user_name=req.name, client=client(request), detail=e.message)
            raise ApiError(401, str(e), "login_failed", "authentication_error") from None
        office.audit.append("login", result.user, client=client(request))
        return JSONResponse({"token": result.token, "expires_at": result.expires_at.isoformat(), "user": result.user.name,
                             "role": result.user.role})  # fmt: skip

    @app.post("/v1/logout")
    def logout(request: Request, user: UserInfo = Depends(current_user)) -> dict[str, Any]:  # noqa: B008
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        return {"logged_out": office.accounts.logout(token)}

    def readable(user: UserInfo) -> list[str]:
        return user.readable(services.knowledge_bases())

    def pick_kb(user: UserInfo, model: str) -> str:
        kbs = readable(user)
        wanted = (model or "").strip()
        if wanted in ("", DEFAULT_MODEL):
            if settings.kb in kbs:
                return settings.kb
            if kbs:
                return kbs[0]
            raise ApiError(403, f"用户 {user.name} 没有任何可查询的知识库 — 请管理员用 `assistant user grant {user.name} 知识库名` 授权", "no_knowledge_base")
        if wanted not in kbs:
            have = "、".join(kbs) or "无"
            raise ApiError(404, f"知识库 {wanted!r} 不存在或用户 {user.name} 无权查询（可查询：{have}）— 用 GET /v1/models 查看", "model_not_found")
        return wanted

    def model_card(kb: str) -> dict[str, Any]:
        return {"id": kb, "object": "model", "created": 0, "owned_by": OWNER}

    def doc_service(request: Request, kb: str = "", user: UserInfo = Depends(current_user)) -> Any:  # noqa: B008
        """The 原文 / 版本对比 pages (faces/web/doc_page.py) read only a knowledge base this user may read (?kb=)."""
        return services.get(pick_kb(user, kb))

    app.include_router(doc_router(doc_service))

    @app.get("/v1/models")
    def list_models(user: UserInfo = Depends(current_user)) -> dict[str, Any]:  # noqa: B008 - FastAPI's idiom
        return {"object": "list", "data": [model_card(kb) for kb in readable(user)]}

    @app.get("/v1/models/{model_id}")
    def get_model(model_id: str, user: UserInfo = Depends(current_user)) -> dict[str, Any]:  # noqa: B008
        return model_card(pick_kb(user, model_id))

    def record(user: UserInfo, request: Request, kb: str, question: str, answer: Answer, req: ChatRequest, started: float) -> dict:
        elapsed = (time.perf_counter() - started) * 1000
        turn, records = record_answer(
            office, user, kb, question, answer, elapsed, client=client(request), conversation_id=req.conversation_id
        )
        return {
            "citations": [citation_json(r) for r in records],
            "related": [citation_json(citation_record(c, kb)) for c in answer.related],
            "outcome": answer.outcome,
            "outcome_label": OUTCOME_LABELS[answer.outcome],
            "query": answer.query,
            "conversation_id": turn.conversation_id,
            "message_id": turn.id,
        }

    def audit_failure(user: UserInfo, request: Request, kb: str, question: str, e: Exception, started: float) -> None:
        record_failure(office, user, kb, question, e, (time.perf_counter() - started) * 1000, client=client(request))

    @app.post("/v1/chat/completions")
    def chat_completions(req: ChatRequest, request: Request, user: UserInfo = Depends(current_user)):  # noqa: B008
        question, history = split_messages(req.messages)
        kb = pick_kb(user, req.model)
        if req.conversation_id is not None:
            try:
                saved = office.history.get(user, req.conversation_id)
            except AssistantError as e:
                raise ApiError(404, str(e), "conversation_not_found") from None
            if not history:  # only the new question sent: resume from the saved turns
                history = saved.chat_history()
        service = services.get(kb)
        started = time.perf_counter()
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not req.stream:
            try:
                answer = service.ask(question, history)
            except AssistantError as e:
                audit_failure(user, request, kb, question, e, started)
                raise ApiError(400, str(e), "assistant_error") from None
            extra = record(user, request, kb, question, answer, req, started)
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": kb,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                **extra,
            }

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": kb,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}  # fmt: skip
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        def events() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            answer: Answer | None = None
            last = time.monotonic()
            try:
                for item in service.stream_ask(question, history):
                    if isinstance(item, Answer):
                        answer = item
                    elif time.monotonic() - last >= KEEPALIVE_SECONDS:
                        last = time.monotonic()
                        yield ": 正在生成并核对引用\n\n"
                if answer is None:
                    raise AssistantError("回答器没有给出最终回答", "重试；如一再出现请报告")
            except Exception as e:  # noqa: BLE001 - the stream has started: report in-band, in OpenAI's error shape
                audit_failure(user, request, kb, question, e, started)
                message = str(e) if isinstance(e, AssistantError) else "服务器内部错误，请重试或联系管理员"
                yield f"data: {json.dumps({'error': {'message': message, 'type': 'server_error', 'code': 'assistant_error'}}, ensure_ascii=False)}\n\n"
                yield "data: [DONE]\n\n"
                return
            extra = record(user, request, kb, question, answer, req, started)
            for piece in _pieces(answer.text):
                yield chunk({"content": piece})
            yield chunk({}, "stop", **extra)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/search")
    def search(req: SearchRequest, request: Request, user: UserInfo = Depends(current_user)) -> dict[str, Any]:  # noqa: B008
        if req.mode is not None and req.mode not in ("bm25", "vector", "hybrid"):
            raise ApiError(400, f"mode 的值 {req.mode!r} 无效 — 用 bm25、vector、hybrid 之一，或不填", "invalid_mode")
        kb = pick_kb(user, req.kb or req.model)
        started = time.perf_counter()
        try:
            hits = services.get(kb).search(req.query, k=req.k, mode=req.mode)
        except AssistantError as e:
            raise ApiError(400, str(e), "assistant_error") from None
        elapsed = (time.perf_counter() - started) * 1000
        data = [hit_json(h, kb) for h in hits]
        office.audit.append(
            "search", user, client=client(request), question=req.query, kbs=[kb], elapsed_ms=elapsed,
            citations=[{"n": d["rank"], "label": d["label"], "chunk_id": d["chunk_id"], "kb": kb} for d in data],
        )  # fmt: skip
        return {"object": "list", "model": kb, "data": data}

    # ------------------------------------------------------------------ the user's own history and feedback

    def conversation_json(c: ConversationInfo) -> dict[str, Any]:
        return {"id": c.id, "title": c.title, "kbs": list(c.kbs), "turns": c.turns,
                "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat()}  # fmt: skip

    def turn_json(t: Turn) -> dict[str, Any]:
        return {
            "message_id": t.id, "seq": t.seq, "question": t.question, "answer": t.answer, "outcome": t.outcome,
            "citations": [citation_json(c) for c in t.citations], "timings": dict(t.timings),
            "elapsed_ms": t.elapsed_ms, "created_at": t.created_at.isoformat(),
        }  # fmt: skip

    def own(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except AssistantError as e:
            raise ApiError(404, str(e), "conversation_not_found") from None

    @app.get("/v1/conversations")
    def conversations(
        limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0), q: str = "", user: UserInfo = Depends(current_user)  # noqa: B008
    ) -> dict[str, Any]:
        """The user's conversations, latest first; with ``q``, the turns whose question or answer contains it."""
        if q.strip():
            hits = office.history.search(user, q, limit=limit)
            data = [{"conversation_id": h.conversation_id, "title": h.conversation_title, **turn_json(h.turn)} for h in hits]
            return {"object": "list", "data": data}
        return {"object": "list", "data": [conversation_json(c) for c in office.history.conversations(user, limit, offset)]}

    @app.get("/v1/conversations/{conversation_id}")
    def conversation(conversation_id: int, user: UserInfo = Depends(current_user)) -> dict[str, Any]:  # noqa: B008
        detail = own(lambda: office.history.get(user, conversation_id))
        return {**conversation_json(detail.conversation), "messages": [turn_json(t) for t in detail.turns]}

    @app.get("/v1/conversations/{conversation_id}/export")
    def export_conversation(conversation_id: int, format: str = "md", user: UserInfo = Depends(current_user)) -> Response:  # noqa: A002, B008
        if format not in ("md", "docx"):
            raise ApiError(400, f"format 的值 {format!r} 无效 — 用 md 或 docx", "invalid_format")
        detail = own(lambda: office.history.get(user, conversation_id))
        name = quote(f"对话{conversation_id}.{format}")
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{name}"}
        if format == "md":
            return Response(to_markdown(detail), media_type="text/markdown; charset=utf-8", headers=headers)
        with tempfile.TemporaryDirectory() as tmp:
            data = to_docx(detail, Path(tmp) / "out.docx").read_bytes()
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document", headers=headers)

    @app.delete("/v1/conversations/{conversation_id}")
    def delete_conversation(conversation_id: int, user: UserInfo = Depends(current_user)) -> dict[str, Any]:  # noqa: B008
        own(lambda: office.history.delete(user, conversation_id))
        return {"id": conversation_id, "deleted": True}

    @app.delete("/v1/conversations")
    def delete_all_conversations(user: UserInfo = Depends(current_user)) -> dict[str, Any]:  # noqa: B008
        return {"deleted": office.history.delete_all(user)}

    @app.post("/v1/feedback")
    def feedback(req: FeedbackRequest, user: UserInfo = Depends(current_user)) -> dict[str, Any]:  # noqa: B008
        """👍 (rating 1) or 👎 (-1) on one of the user's answers (``message_id`` from the chat response)."""
        try:
            f = office.feedback.give(user, req.message_id, req.rating, req.comment, req.correct_answer, req.correct_article)
        except AssistantError as e:
            raise ApiError(404 if "不存在" in e.message else 400, str(e), "invalid_feedback") from None
        return {"id": f.id, "message_id": f.message_id, "rating": f.rating, "status": f.status}

    # ------------------------------------------------------------------ statistics for admins

    def admin(user: UserInfo = Depends(current_user)) -> UserInfo:  # noqa: B008
        if not user.is_admin:
            raise ApiError(403, f"用户 {user.name} 不是管理员，不能使用管理接口 — 请管理员操作", "admin_only", "permission_error")
        return user

    def feedback_json(f: FeedbackInfo) -> dict[str, Any]:
        return {
            "id": f.id, "status": f.status, "rating": f.rating, "user": f.user_name, "message_id": f.message_id,
            "question": f.question, "answer": f.answer, "outcome": f.outcome, "kbs": list(f.kbs),
            "citations": [citation_json(c) for c in f.citations], "comment": f.comment,
            "correct_answer": f.correct_answer, "correct_article": f.correct_article, "keypoints": list(f.keypoints),
            "reviewer": f.reviewer_name, "review_note": f.review_note,
            "reviewed_at": f.reviewed_at.isoformat() if f.reviewed_at else None, "created_at": f.created_at.isoformat(),
        }  # fmt: skip

    @app.get("/v1/admin/feedback")
    def feedback_list(status: str | None = None, limit: int = Query(200, ge=1, le=1000), user: UserInfo = Depends(admin)) -> dict:  # noqa: B008
        try:
            return {"object": "list", "data": [feedback_json(f) for f in office.feedback.entries(status=status, limit=limit)]}
        except AssistantError as e:
            raise ApiError(400, str(e), "invalid_status") from None

    @app.post("/v1/admin/feedback/{feedback_id}/review")
    def feedback_review(feedback_id: int, req: ReviewRequest, user: UserInfo = Depends(admin)) -> dict[str, Any]:  # noqa: B008
        """Accept (it becomes a line of `assistant feedback export`) or reject a feedback."""
        try:
            f = office.feedback.review(user, feedback_id, req.accept, req.note, correct_article=req.correct_article, keypoints=req.keypoints)
        except AssistantError as e:
            raise ApiError(404 if "不存在" in e.message else 400, str(e), "invalid_review") from None
        office.audit.append("feedback_review", user, client="api", detail=f"#{f.id} {f.status}")
        return feedback_json(f)

    @app.get("/v1/admin/audit.csv")
    def audit_csv(days: int | None = Query(None, ge=1), user: UserInfo = Depends(admin)) -> Response:  # noqa: B008
        buf = io.StringIO()
        office.audit.write_csv(buf, since=datetime.now(UTC) - timedelta(days=days) if days else None)
        headers = {"Content-Disposition": "attachment; filename=audit.csv"}
        return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)

    @app.get("/v1/admin/stats")
    def stats(days: int = Query(30, ge=1, le=3660), utc_offset: int = Query(8, ge=-12, le=14), user: UserInfo = Depends(admin)) -> dict:  # noqa: B008
        since = datetime.now(UTC) - timedelta(days=days)
        log = office.audit
        rate = log.refusal_rate(since=since)
        return {
            "days": [{"day": d.day.isoformat(), "questions": d.questions, "refused": d.refused}
                     for d in log.questions_per_day(since=since, utc_offset_hours=utc_offset)],
            "questions": rate.questions, "refused": rate.refused, "refusal_rate": round(rate.rate, 4),
            "top_questions": [{"question": t.question, "count": t.count, "refused": t.refused} for t in log.top_questions(10, since=since)],
            "top_refused": [{"question": t.question, "count": t.count} for t in log.top_refused(10, since=since)],
            "slowest": [{"question": a.question, "elapsed_ms": a.elapsed_ms, "user": a.user_name, "at": a.at.isoformat()}
                        for a in log.slowest(10, since=since)],
        }  # fmt: skip

    return app


def hit_json(h: Hit, kb: str) -> dict[str, Any]:
    c = h.chunk
    return {
        "rank": h.rank,
        "score": round(h.score, 6),
        "title": c.title,
        "article": c.article,
        "label": c.label,
        "kind": c.kind,
        "version": c.version,
        "superseded": c.superseded,
        "source": c.source,
        **provenance(c.source, c.superseded),
        "status": c.status,  # 现行有效 | 旧版 | 已废止 (searchable as history, never answered from)
        "repealed": c.repealed,
        "chunk_id": c.id,
        "kb": kb,
        "text": c.text,
    }


def _pieces(text: str, size: int = 24) -> Iterator[str]:
    """The verified answer in small pieces, cut after punctuation where possible, so clients render it as a stream."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(text.rfind(p, start, end + 8) for p in "，。；：！？\n")
            if cut >= start:
                end = cut + 1
        yield text[start:end]
        start = end


def run(settings: Settings, office: Office, host: str, port: int) -> None:  # pragma: no cover - the CLI's blocking server
    import uvicorn

    uvicorn.run(create_app(settings, office), host=host, port=port, log_level="info")
