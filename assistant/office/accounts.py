"""Users, roles, knowledge-base grants, logins (rate limited), sessions that expire, and API keys.

Roles: ``admin`` manages users and knowledge bases, reads and edits every knowledge base and sees statistics;
``editor`` adds documents to the knowledge bases granted to them as editor; ``reader`` asks questions. Everyone
but an admin reads only the knowledge bases granted to them (as reader or editor).

Passwords are hashed with argon2id. Session tokens and API keys are random 256-bit secrets shown once and stored
as SHA-256 digests (a fast hash is safe for secrets of that strength, and lets a key be looked up by its digest).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session, selectinload

from assistant.core.errors import AssistantError
from assistant.office.db import Database
from assistant.office.models import GRANT_ROLES, ROLES, ApiKey, KbGrant, LoginFailure, LoginSession, User

MIN_PASSWORD = 8
MAX_NAME = 64
KEY_PREFIX = "pda-"
KEY_USE_RESOLUTION = timedelta(minutes=1)


class LoginThrottled(AssistantError):
    """Too many failed logins for one name from one address: refused for ``retry_after`` seconds."""

    def __init__(self, message: str, fix: str, retry_after: int) -> None:
        super().__init__(message, fix)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Grant:
    kb: str
    role: str  # reader | editor


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: str  # admin | editor | reader
    disabled: bool
    created_at: datetime
    grants: tuple[Grant, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_read(self, kb: str) -> bool:
        return not self.disabled and (self.is_admin or any(g.kb == kb for g in self.grants))

    def can_edit(self, kb: str) -> bool:
        """Admins edit every knowledge base; editors the ones granted to them as editor."""
        if self.disabled:
            return False
        return self.is_admin or (self.role == "editor" and any(g.kb == kb and g.role == "editor" for g in self.grants))

    def readable(self, kbs: Iterable[str]) -> list[str]:
        """The knowledge bases among ``kbs`` this user may search, in the given order."""
        return [kb for kb in kbs if self.can_read(kb)]


@dataclass(frozen=True)
class LoginResult:
    token: str  # shown once; only its digest is stored
    user: UserInfo
    expires_at: datetime


@dataclass(frozen=True)
class ApiKeyInfo:
    id: int
    user_name: str
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewApiKey:
    key: str  # shown once; only its digest is stored
    info: ApiKeyInfo


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        name=user.name,
        role=user.role,
        disabled=user.disabled,
        created_at=user.created_at,
        grants=tuple(Grant(g.kb, g.role) for g in sorted(user.grants, key=lambda g: g.kb)),
    )


def _key_info(key: ApiKey, user_name: str) -> ApiKeyInfo:
    return ApiKeyInfo(key.id, user_name, key.label, key.prefix, key.created_at, key.last_used_at, key.revoked_at)


def check_name(name: str) -> str:
    name = unicodedata.normalize("NFKC", name or "").strip()
    if not name:
        raise AssistantError("用户名为空", "给出用户名，例如 `assistant user add 张三 --role reader`")
    if len(name) > MAX_NAME:
        raise AssistantError(f"用户名 {name[:20]}… 有 {len(name)} 个字符，太长", f"用户名最多 {MAX_NAME} 个字符")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in name):
        raise AssistantError(f"用户名 {name!r} 含有空白或控制字符", "用户名不能含空格、制表符或换行")
    return name


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AssistantError(
            f"密码太短（{len(password or '')} 个字符）", f"密码至少 {MIN_PASSWORD} 个字符；建议使用一句不易猜到的短语"
        )
    if password != password.strip():
        raise AssistantError("密码首尾有空格", "去掉密码开头和结尾的空格（输入时容易漏掉）")
    return password


def check_role(role: str, allowed: Sequence[str] = ROLES, what: str = "角色") -> str:
    if role not in allowed:
        raise AssistantError(f"{what} {role!r} 无效", f"可用的{what}：{' | '.join(allowed)}")
    return role


def check_kb(kb: str) -> str:
    kb = (kb or "").strip()
    if not kb:
        raise AssistantError("知识库名称为空", "给出知识库名称，例如 default 或 `assistant kb list` 列出的名称")
    if len(kb) > 128:
        raise AssistantError(f"知识库名称 {kb[:20]}… 太长", "知识库名称最多 128 个字符")
    return kb


class Accounts:
    """Accounts in the office database. Every method opens and commits its own transaction."""

    def __init__(
        self,
        db: Database,
        *,
        max_failures: int = 5,
        failure_window: timedelta = timedelta(minutes=1),
        session_ttl: timedelta = timedelta(hours=8),
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.db = db
        self.max_failures = max_failures
        self.failure_window = failure_window
        self.session_ttl = session_ttl
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    @property
    def _dummy_hash(self) -> str:
        """A hash to verify against for unknown names, so they take as long as wrong passwords."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_hex(16))
        return self._dummy

    # ------------------------------------------------------------------ users

    def _find(self, s: Session, name: str) -> User:
        user = s.scalar(select(User).where(User.name == name).options(selectinload(User.grants)))
        if user is None:
            raise AssistantError(f"用户 {name!r} 不存在", "用 `assistant user list` 查看用户，或 `assistant user add` 新建")
        return user

    def add(self, name: str, password: str, role: str = "reader") -> UserInfo:
        name, password, role = check_name(name), check_password(password), check_role(role)
        now = self.db.now()
        with self.db.begin() as s:
            if s.scalar(select(User.id).where(User.name == name)) is not None:
                raise AssistantError(f"用户 {name!r} 已存在", "换一个用户名，或用 `assistant user passwd` 修改其密码")
            user = User(
                name=name, password_hash=self.hasher.hash(password), role=role, disabled=False,
                created_at=now, password_changed_at=now, grants=[],
            )  # fmt: skip
            s.add(user)
            s.flush()
            return _user_info(user)

    def get(self, name: str) -> UserInfo:
        with self.db.begin() as s:
            return _user_info(self._find(s, name))

    def by_id(self, user_id: int) -> UserInfo:
        with self.db.begin() as s:
            user = s.scalar(select(User).where(User.id == user_id).options(selectinload(User.grants)))
            if user is None:
                raise AssistantError(f"用户编号 {user_id} 不存在", "该用户可能已被删除；重新登录")
            return _user_info(user)

    def users(self) -> list[UserInfo]:
        with self.db.begin() as s:
            return [_user_info(u) for u in s.scalars(select(User).options(selectinload(User.grants)).order_by(User.name))]

    def count(self) -> int:
        with self.db.begin() as s:
            return s.scalar(select(func.count(User.id))) or 0

    def passwd(self, name: str, password: str) -> UserInfo:
        """Set a new password; the user's sessions end (API keys stay: revoke them separately)."""
        password = check_password(password)
        with self.db.begin() as s:
            user = self._find(s, name)
            user.password_hash = self.hasher.hash(password)
            user.password_changed_at = self.db.now()
            s.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
            return _user_info(user)

    def _other_admins(self, s: Session, user: User) -> int:
        stmt = select(func.count(User.id)).where(User.role == "admin", User.disabled.is_(False), User.id != user.id)
        return s.scalar(stmt) or 0

    def set_role(self, name: str, role: str) -> UserInfo:
        role = check_role(role)
        with self.db.begin() as s:
            user = self._find(s, name)
            if user.role == "admin" and role != "admin" and not self._other_admins(s, user):
                raise AssistantError(f"{name!r} 是唯一的管理员，不能改为 {role}", "先把另一个用户设为 admin")
            user.role = role
            return _user_info(user)

    def set_disabled(self, name: str, disabled: bool = True) -> UserInfo:
        """Disable (or re-enable) an account: its sessions end and its API keys stop working while disabled."""
        with self.db.begin() as s:
            user = self._find(s, name)
            if disabled and user.role == "admin" and not self._other_admins(s, user):
                raise AssistantError(f"{name!r} 是唯一可用的管理员，不能停用", "先把另一个用户设为 admin")
            user.disabled = disabled
            if disabled:
                s.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
            return _user_info(user)

    # ------------------------------------------------------------------ grants

    def grant(self, name: str, kb: str, role: str = "reader") -> UserInfo:
        """Let ``name`` read (or, as editor, add documents to) knowledge base ``kb``; a second grant replaces the first."""
        kb, role = check_kb(kb), check_role(role, GRANT_ROLES, "知识库权限")
        with self.db.begin() as s:
            user = self._find(s, name)
            if role == "editor" and user.role == "reader":
                raise AssistantError(
                    f"用户 {name!r} 的角色是 reader，不能获得知识库 {kb} 的编辑权限",
                    f"只授予阅读权限（--role reader），或先把角色改为 editor：`assistant user role {name} editor`",
                )
            existing = next((g for g in user.grants if g.kb == kb), None)
            if existing is None:
                user.grants.append(KbGrant(kb=kb, role=role, granted_at=self.db.now()))
            else:
                existing.role = role
            s.flush()
            return _user_info(user)

    def revoke(self, name: str, kb: str) -> UserInfo:
        kb = check_kb(kb)
        with self.db.begin() as s:
            user = self._find(s, name)
            existing = next((g for g in user.grants if g.kb == kb), None)
            if existing is None:
                have = "、".join(g.kb for g in user.grants) or "无"
                raise AssistantError(f"用户 {name!r} 没有知识库 {kb!r} 的权限（现有：{have}）", "检查知识库名称")
            user.grants.remove(existing)
            s.flush()
            return _user_info(user)

    # ------------------------------------------------------------------ logins and sessions

    def _recent_failures(self, s: Session, name: str, ip: str) -> list[datetime]:
        since = self.db.now() - self.failure_window
        stmt = select(LoginFailure.at).where(LoginFailure.name == name, LoginFailure.ip == ip, LoginFailure.at > since)
        return sorted(s.scalars(stmt))

    def authenticate(self, name: str, password: str, ip: str = "") -> UserInfo:
        """The user whose name and password these are. After ``max_failures`` failures within ``failure_window``
        from one address for one name, every attempt (right or wrong) is refused until the window has passed."""
        name = unicodedata.normalize("NFKC", name or "").strip()
        ip = (ip or "")[:64]
        now = self.db.now()
        with self.db.begin() as s:
            recent = self._recent_failures(s, name, ip)
            if len(recent) >= self.max_failures:
                wait = max(1, int((recent[-self.max_failures] + self.failure_window - now).total_seconds()) + 1)
                raise LoginThrottled(
                    f"用户 {name!r} 登录失败次数过多（{int(self.failure_window.total_seconds())} 秒内 {len(recent)} 次）",
                    f"请 {wait} 秒后再试；忘记密码请管理员用 `assistant user passwd` 重设",
                    wait,
                )
            user = s.scalar(select(User).where(User.name == name).options(selectinload(User.grants)))
            ok = False
            try:
                ok = self.hasher.verify(user.password_hash if user else self._dummy_hash, password) and user is not None
            except (VerificationError, InvalidHashError):
                ok = False
            if not ok or user is None:
                # committed before the error is raised (raising inside the transaction would roll it back)
                s.add(LoginFailure(name=name[:64], ip=ip, at=now))
                s.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.failure_window))
                info = None
            else:
                info = _user_info(user)
                if not user.disabled:
                    s.execute(delete(LoginFailure).where(LoginFailure.name == name, LoginFailure.ip == ip))
                    if self.hasher.check_needs_rehash(user.password_hash):
                        user.password_hash = self.hasher.hash(password)
        if info is None:
            left = self.max_failures - len(recent) - 1
            raise AssistantError("用户名或密码错误", f"检查后重试（再错 {left} 次将暂停登录）" if left > 0 else "请稍后再试")
        if info.disabled:
            raise AssistantError(f"用户 {name!r} 已停用", "请管理员重新启用该账号")
        return info

    def login(self, name: str, password: str, ip: str = "") -> LoginResult:
        user = self.authenticate(name, password, ip)
        token = secrets.token_urlsafe(32)
        now = self.db.now()
        expires = now + self.session_ttl
        with self.db.begin() as s:
            s.add(LoginSession(user_id=user.id, token_hash=digest(token), ip=(ip or "")[:64], created_at=now, expires_at=expires))
        return LoginResult(token, user, expires)

    def session_user(self, token: str) -> UserInfo | None:
        """The user of a live session, or None when the token is unknown, expired (then removed) or the user disabled."""
        if not token:
            return None
        with self.db.begin() as s:
            row = s.scalar(select(LoginSession).where(LoginSession.token_hash == digest(token)))
            if row is None:
                return None
            if row.expires_at <= self.db.now():
                s.delete(row)
                return None
            user = s.scalar(select(User).where(User.id == row.user_id).options(selectinload(User.grants)))
            if user is None or user.disabled:
                return None
            return _user_info(user)

    def logout(self, token: str) -> bool:
        with self.db.begin() as s:
            result = cast(CursorResult, s.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token))))
            return bool(result.rowcount)

    def purge_expired(self) -> int:
        """Remove expired sessions and old login failures; returns the number of sessions removed."""
        now = self.db.now()
        with self.db.begin() as s:
            n = cast(CursorResult, s.execute(delete(LoginSession).where(LoginSession.expires_at <= now))).rowcount
            s.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.failure_window))
            return n or 0

    # ------------------------------------------------------------------ API keys

    def create_key(self, name: str, label: str = "") -> NewApiKey:
        """A new API key for ``name``. The key itself is in the result only: it cannot be shown again."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.db.begin() as s:
            user = self._find(s, name)
            row = ApiKey(
                user_id=user.id,
                label=(label or "").strip()[:128],
                prefix=key[:12],
                key_hash=digest(key),
                created_at=self.db.now(),
            )
            s.add(row)
            s.flush()
            return NewApiKey(key, _key_info(row, user.name))

    def list_keys(self, name: str) -> list[ApiKeyInfo]:
        with self.db.begin() as s:
            user = self._find(s, name)
            rows = s.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id))
            return [_key_info(k, user.name) for k in rows]

    def revoke_key(self, name: str, key_id: int) -> ApiKeyInfo:
        with self.db.begin() as s:
            user = self._find(s, name)
            row = s.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id))
            if row is None:
                raise AssistantError(
                    f"用户 {name!r} 没有编号为 {key_id} 的 API 密钥", f"用 `assistant user key {name} --list` 查看编号"
                )
            if row.revoked_at is None:
                row.revoked_at = self.db.now()
            return _key_info(row, user.name)

    def user_for_key(self, key: str) -> UserInfo | None:
        """The user an API key belongs to, or None for an unknown or revoked key or a disabled user."""
        if not key or not key.startswith(KEY_PREFIX):
            return None
        with self.db.begin() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest(key)))
            if row is None or row.revoked_at is not None:
                return None
            user = s.scalar(select(User).where(User.id == row.user_id).options(selectinload(User.grants)))
            if user is None or user.disabled:
                return None
            now = self.db.now()
            if row.last_used_at is None or now - row.last_used_at >= KEY_USE_RESOLUTION:
                row.last_used_at = now  # at most one write a minute per key, not one per request
            return _user_info(user)
