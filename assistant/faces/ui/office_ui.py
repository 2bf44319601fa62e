"""The web UI for an office: logins with the office accounts, sessions that expire, one knowledge base per question
chosen among the user's readable ones.

Gradio's ``auth=`` callable checks a name and password against the office accounts (argon2id, five failures a minute
per name and address, then refused for the rest of the minute). Gradio keeps its own cookie token per login and never
expires it, so a small ASGI middleware ties each Gradio token to an office session created at login: when the office
session ends (8 hours, a password change, a disabled account) the Gradio token is dropped and the page asks for the
login again. The same middleware gives the login check the client's address for the rate limit.

Handlers get the user from ``gr.Request.username`` through :meth:`OfficeUI.user`; a handler never trusts a value the
page sends for the user, the knowledge base or a conversation without checking it against the office.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

import gradio as gr
from fastapi import HTTPException
from starlette.middleware import Middleware

from assistant.app.office import LoginThrottled, Office, Services, UserInfo, open_office
from assistant.app.service import AssistantService
from assistant.core.errors import AssistantError
from assistant.core.messages import error, say
from assistant.core.settings import Settings

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SESSION_CHECK_SECONDS = 30.0  # how often a live Gradio token is checked against its office session

_client_ip: contextvars.ContextVar[str] = contextvars.ContextVar("assistant_ui_client_ip", default="")
_issued: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("assistant_ui_issued", default=None)


def is_loopback(host: str) -> bool:
    return (host or "").strip() in LOOPBACK


class OfficeUI:
    """The office behind the web UI: accounts, history, feedback and audit, and one service per knowledge base."""

    def __init__(
        self,
        settings: Settings,
        office: Office,
        services: Services | None = None,
        *,
        session_check_seconds: float = SESSION_CHECK_SECONDS,
    ) -> None:
        self.settings = settings
        self.office = office
        self.services = services or Services(settings)
        self.session_check_seconds = session_check_seconds
        self._sessions: dict[str, tuple[str, float]] = {}  # Gradio token → (office session token, next check)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ logins

    def client(self) -> str:
        ip = _client_ip.get()
        return f"web {ip}".strip()

    def auth(self, username: str, password: str) -> bool:
        """Gradio's auth callable: the office accounts, rate limited per name and address; every attempt audited.
        A throttled login is refused with HTTP 429 and the wait in Chinese (the login page shows it as a failure)."""
        ip = _client_ip.get()
        try:
            result = self.office.accounts.login(username, password, ip=ip)
        except LoginThrottled as e:
            self.office.audit.append("login_throttled", user_name=username, client=self.client(), detail=e.message)
            raise HTTPException(429, detail=str(e), headers={"Retry-After": str(e.retry_after)}) from None
        except AssistantError as e:
            self.office.audit.append("login_failed", user_name=username, client=self.client(), detail=e.message)
            return False
        self.office.audit.append("login", result.user, client=self.client())
        issued = _issued.get()
        if issued is not None:
            issued.append(result.token)
        return True

    def bind(self, gradio_token: str, office_token: str) -> None:
        """Tie the cookie token Gradio just issued to the office session created by the same login."""
        with self._lock:
            self._sessions[gradio_token] = (office_token, 0.0)

    def check_session(self, tokens: MutableMapping[str, str], gradio_token: str) -> None:
        """Drop a Gradio token whose office session has ended (expired, password changed, account disabled) or that
        no office login issued; Gradio then treats the browser as logged out."""
        name = tokens.get(gradio_token)
        if name is None:
            return
        with self._lock:
            entry = self._sessions.get(gradio_token)
        if entry is None:
            tokens.pop(gradio_token, None)
            return
        office_token, next_check = entry
        now = time.monotonic()
        if now < next_check:
            return
        user = self.office.accounts.session_user(office_token)
        with self._lock:
            if user is None or user.name != name:
                tokens.pop(gradio_token, None)
                self._sessions.pop(gradio_token, None)
                log.info("web session ended for a user (expired, password changed or disabled)")
            else:
                self._sessions[gradio_token] = (office_token, now + self.session_check_seconds)

    def launch_kwargs(self) -> dict[str, Any]:
        return {
            "auth": self.auth,
            "auth_message": say("note_login_prompt"),
            "app_kwargs": {"middleware": [Middleware(SessionMiddleware, ui=self)]},
        }

    # ------------------------------------------------------------------ users and knowledge bases

    def user(self, request: gr.Request | None) -> UserInfo:
        """The logged-in user of this event (refused when there is none, or the account is gone or disabled)."""
        name = getattr(request, "username", None) if request is not None else None
        if not name:
            raise error("ui_login_needed")
        try:
            user = self.office.accounts.get(name)
        except AssistantError:
            raise error("ui_login_needed") from None
        if user.disabled:
            raise error("ui_account_disabled", name=user.name)
        return user

    def admin(self, request: gr.Request | None, page: str) -> UserInfo:
        user = self.user(request)
        if not user.is_admin:
            raise error("ui_admin_only", name=user.name, page=page)
        return user

    def editor(self, request: gr.Request | None, kb: str) -> UserInfo:
        """The user, when they may change knowledge base ``kb`` (admins, and editors granted it as editor)."""
        user = self.user(request)
        if not user.can_edit(kb):
            raise error("ui_kb_edit_forbidden", name=user.name, kb=kb)
        return user

    def readable(self, user: UserInfo) -> list[str]:
        return user.readable(self.services.knowledge_bases())

    def default_kb(self, user: UserInfo) -> str | None:
        kbs = self.readable(user)
        if self.settings.kb in kbs:
            return self.settings.kb
        return kbs[0] if kbs else None

    def pick_kb(self, user: UserInfo, kb: str | None) -> str:
        """``kb`` when the user may read it; with no ``kb``, the configured one if readable, else the user's first."""
        kbs = self.readable(user)
        if not kbs:
            raise error("ui_no_kb", name=user.name)
        if not kb:
            return self.default_kb(user) or kbs[0]
        if kb not in kbs:
            raise error("ui_kb_forbidden", kb=kb, name=user.name, have="、".join(kbs))
        return kb

    def service(self, user: UserInfo, kb: str | None) -> tuple[str, AssistantService]:
        kb = self.pick_kb(user, kb)
        return kb, self.services.get(kb)


class SessionMiddleware:
    """ASGI middleware: the client's address for the login rate limit, the binding of a new Gradio login token to
    its office session, and the end of Gradio tokens whose office session has ended."""

    def __init__(self, app: Callable, ui: OfficeUI) -> None:
        self.app = app
        self.ui = ui

    @staticmethod
    def _cookies(scope: dict) -> dict[str, str]:
        raw = "; ".join(v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"cookie")
        if not raw:
            return {}
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return {}
        return {k: m.value for k, m in jar.items()}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip_token = _client_ip.set(str(client[0]) if client else "")
        try:
            gradio_app = scope.get("app")
            cookie_id = getattr(gradio_app, "cookie_id", None)
            tokens = getattr(gradio_app, "tokens", None)
            names = (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}")
            if cookie_id is not None and tokens is not None:
                cookies = self._cookies(scope)
                for token in {cookies.get(n) for n in names} - {None}:
                    self.ui.check_session(tokens, token)  # type: ignore[arg-type]
            is_login = scope.get("type") == "http" and scope.get("method") == "POST" and scope.get("path", "").rstrip("/").endswith("/login")
            if not is_login or cookie_id is None:
                await self.app(scope, receive, send)
                return
            issued: list[str] = []
            issued_token = _issued.set(issued)

            async def bind_cookie(message: dict) -> None:
                if message.get("type") == "http.response.start" and issued:
                    for k, v in message.get("headers", []):
                        if k.lower() != b"set-cookie":
                            continue
                        jar: SimpleCookie = SimpleCookie()
                        try:
                            jar.load(v.decode("latin-1"))
                        except CookieError:
                            continue
                        for n in names:
                            if n in jar:
                                self.ui.bind(jar[n].value, issued[-1])
                await send(message)

            try:
                await self.app(scope, receive, bind_cookie)
            finally:
                _issued.reset(issued_token)
        finally:
            _client_ip.reset(ip_token)


def open_office_ui(settings: Settings, service: AssistantService | None = None) -> OfficeUI | None:
    """The office mode of the web UI when the office database has accounts, else None (the single-login mode)."""
    office = open_office(settings)
    if office.accounts.count() == 0:
        office.close()
        return None
    services = Services(settings)
    if service is not None:
        services.add(service)
    return OfficeUI(settings, office, services)
