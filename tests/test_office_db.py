"""The office database (assistant/office): accounts and roles, rate-limited logins, expiring sessions, API keys,
history, feedback exported as an eval set, the append-only audit log and its statistics.

Every test runs on SQLite (a file in tmp_path) and, marked integration, on a real PostgreSQL 15 cluster that the
``pg_server`` fixture starts with initdb/pg_ctl in a temporary folder (skipped when the binaries are absent).
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from pg_fixtures import pg_server  # noqa: F401 - a session fixture
from sqlalchemy import inspect, text

from assistant.core.errors import AssistantError
from assistant.evaluation.format import load_qa
from assistant.office import CitationRecord, DayCount, Office, resolve_url
from assistant.office.db import make_engine
from assistant.office.migrations import current, downgrade, head, upgrade

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # argon2id, cheap enough for many tests
PASSWORD = "correct horse battery"


class Clock:
    """A settable UTC clock, so expiry and rate limits are tested without sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return resolve_url("", tmp_path / "index")
    return request.getfixturevalue("pg_server")()


@pytest.fixture()
def clock() -> Clock:
    return Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture()
def office(db_url, clock):
    o = Office(db_url, clock=clock, hasher=FAST_HASHER)
    yield o
    o.close()


def _citations() -> list[CitationRecord]:
    return [
        CitationRecord(1, "中国共产党纪律处分条例", "第八十八条", "收受可能影响公正执行公务的礼品、礼金", "c1", kb="default"),
        CitationRecord(2, "中国共产党章程", "第四十条", "党的纪律是党的各级组织和全体党员必须遵守的行为规则", "c2", True, "2017"),
    ]


# ---------------------------------------------------------------------------- schema and migrations


def test_default_database_is_a_sqlite_file_beside_the_index(tmp_path):
    url = resolve_url("", tmp_path / "index")
    assert url == f"sqlite:///{(tmp_path / 'index' / 'office.sqlite3').resolve()}"
    with Office.open("", tmp_path / "index", hasher=FAST_HASHER) as o:
        o.accounts.add("admin", PASSWORD, role="admin")
    assert (tmp_path / "index" / "office.sqlite3").is_file()
    assert resolve_url("  postgresql://u@h/db ", tmp_path) == "postgresql://u@h/db"


def test_migrations_create_the_models_schema_and_run_both_ways(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from assistant.office.models import Base

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        assert current(engine) == head() == "0001"
        upgrade(engine)  # a database at head is left alone
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
        assert diff == [], f"the models and the migrations disagree: {diff}"
        tables = set(inspect(engine).get_table_names())
        assert {"users", "kb_grants", "api_keys", "sessions", "conversations", "messages", "feedback", "audit"} <= tables
        downgrade(engine, "base")
        assert "users" not in set(inspect(engine).get_table_names())
        upgrade(engine)
        assert current(engine) == "0001"
    finally:
        engine.dispose()


def test_bad_database_urls_are_named_with_the_fix():
    with pytest.raises(AssistantError, match="mysql"):
        make_engine("mysql://u@h/db")
    with pytest.raises(AssistantError, match="database_url"):
        make_engine("not a url")


# ---------------------------------------------------------------------------- accounts, roles, grants


def test_users_roles_and_grants(office):
    acc = office.accounts
    admin = acc.add("admin", PASSWORD, role="admin")
    assert admin.is_admin and admin.can_read("任何库") and admin.can_edit("任何库")
    acc.add("编辑甲", PASSWORD, role="editor")
    acc.add("张三", PASSWORD)
    assert [u.name for u in acc.users()] == sorted(["admin", "编辑甲", "张三"])
    assert acc.get("张三").role == "reader"

    with pytest.raises(AssistantError, match="张三.*已存在"):
        acc.add("张三", PASSWORD)
    with pytest.raises(AssistantError, match="角色 'boss' 无效.*admin"):
        acc.add("李四", PASSWORD, role="boss")
    with pytest.raises(AssistantError, match="密码太短"):
        acc.add("李四", "short")
    with pytest.raises(AssistantError, match="用户名.*空白"):
        acc.add("李 四", PASSWORD)
    with pytest.raises(AssistantError, match="'王五' 不存在"):
        acc.grant("王五", "default")

    zs = acc.grant("张三", "制度")
    assert zs.can_read("制度") and not zs.can_read("default") and not zs.can_edit("制度")
    with pytest.raises(AssistantError, match="reader.*不能获得知识库 制度 的编辑权限"):
        acc.grant("张三", "制度", role="editor")

    ed = acc.grant("编辑甲", "制度", role="editor")
    ed = acc.grant("编辑甲", "default")
    assert ed.can_edit("制度") and ed.can_read("default") and not ed.can_edit("default")
    assert ed.readable(["default", "制度", "报告"]) == ["default", "制度"]
    ed = acc.grant("编辑甲", "default", role="editor")  # a second grant replaces the first
    assert [(g.kb, g.role) for g in ed.grants] == [("default", "editor"), ("制度", "editor")]

    zs = acc.revoke("张三", "制度")
    assert zs.grants == () and not zs.can_read("制度")
    with pytest.raises(AssistantError, match="没有知识库 '制度' 的权限"):
        acc.revoke("张三", "制度")

    with pytest.raises(AssistantError, match="唯一的管理员"):
        acc.set_role("admin", "reader")
    with pytest.raises(AssistantError, match="唯一可用的管理员"):
        acc.set_disabled("admin")
    assert acc.set_role("编辑甲", "admin").is_admin
    assert acc.set_role("admin", "reader").role == "reader"  # another admin exists now

    off = acc.set_disabled("张三")
    assert off.disabled and not off.can_read("default")


def test_passwords_are_argon2id_hashes(db_url, clock):
    with Office(db_url, clock=clock) as o:  # the default (production) argon2 parameters
        o.accounts.add("张三", PASSWORD)
        with o.db.begin() as s:
            stored = s.execute(text("SELECT password_hash FROM users")).scalar_one()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert o.accounts.authenticate("张三", PASSWORD).name == "张三"
        o.accounts.passwd("张三", "another good password")
        with pytest.raises(AssistantError, match="用户名或密码错误"):
            o.accounts.authenticate("张三", PASSWORD)
        assert o.accounts.authenticate("张三", "another good password").name == "张三"


def test_login_rate_limit_per_user_and_address(office, clock):
    acc = office.accounts
    acc.add("张三", PASSWORD)
    for i in range(5):
        with pytest.raises(AssistantError, match="用户名或密码错误"):
            acc.authenticate("张三", f"wrong password {i}", ip="10.0.0.1")
        clock.advance(seconds=5)
    # blocked: even the right password is refused from that address, with how long to wait
    with pytest.raises(AssistantError, match=r"登录失败次数过多.*请 \d+ 秒后再试"):
        acc.authenticate("张三", PASSWORD, ip="10.0.0.1")
    # another address is not blocked, nor is another user from the same address
    assert acc.authenticate("张三", PASSWORD, ip="10.0.0.2").name == "张三"
    acc.add("李四", PASSWORD)
    assert acc.authenticate("李四", PASSWORD, ip="10.0.0.1").name == "李四"
    # unknown users count failures too (no hint that the name does not exist)
    for _ in range(5):
        with pytest.raises(AssistantError, match="用户名或密码错误"):
            acc.authenticate("nobody", PASSWORD, ip="10.0.0.1")
    with pytest.raises(AssistantError, match="登录失败次数过多"):
        acc.authenticate("nobody", PASSWORD, ip="10.0.0.1")
    # once the first failure is older than the window, the right password works again and clears the count
    clock.advance(seconds=40)
    assert acc.authenticate("张三", PASSWORD, ip="10.0.0.1").name == "张三"
    for i in range(4):
        with pytest.raises(AssistantError, match="用户名或密码错误"):
            acc.authenticate("张三", f"wrong {i}", ip="10.0.0.1")
    assert acc.authenticate("张三", PASSWORD, ip="10.0.0.1").name == "张三"


def test_sessions_expire_and_end_on_logout_password_change_or_disable(office, clock):
    acc = office.accounts
    acc.add("admin", PASSWORD, role="admin")
    acc.add("张三", PASSWORD)
    login = acc.login("张三", PASSWORD, ip="10.0.0.1")
    assert login.expires_at == clock.now + timedelta(hours=8)
    assert acc.session_user(login.token).name == "张三"
    assert acc.session_user("not-a-token") is None
    with office.db.begin() as s:
        assert login.token not in str(s.execute(text("SELECT token_hash FROM sessions")).all())
    clock.advance(hours=7, minutes=59)
    assert acc.session_user(login.token) is not None
    clock.advance(minutes=2)
    assert acc.session_user(login.token) is None  # expired, and removed
    with office.db.begin() as s:
        assert s.execute(text("SELECT count(*) FROM sessions")).scalar_one() == 0

    a, b, c = (acc.login("张三", PASSWORD) for _ in range(3))
    assert acc.logout(a.token) and acc.session_user(a.token) is None and acc.session_user(b.token) is not None
    acc.passwd("张三", "a brand new password")
    assert acc.session_user(b.token) is None and acc.session_user(c.token) is None
    d = acc.login("张三", "a brand new password")
    acc.set_disabled("张三")
    assert acc.session_user(d.token) is None
    with pytest.raises(AssistantError, match="已停用"):
        acc.login("张三", "a brand new password")
    clock.advance(hours=9)
    acc.set_disabled("张三", False)
    e = acc.login("张三", "a brand new password")
    clock.advance(hours=9)
    assert acc.purge_expired() == 1 and acc.session_user(e.token) is None


def test_api_keys_are_shown_once_and_stored_hashed(office):
    acc = office.accounts
    acc.add("张三", PASSWORD)
    acc.grant("张三", "default")
    new = acc.create_key("张三", label="笔记本")
    assert new.key.startswith("pda-") and len(new.key) > 40 and new.info.prefix == new.key[:12]
    with office.db.begin() as s:
        stored = s.execute(text("SELECT key_hash, prefix FROM api_keys")).all()
    assert all(new.key not in "".join(row) for row in stored)
    user = acc.user_for_key(new.key)
    assert user.name == "张三" and user.can_read("default")
    assert acc.list_keys("张三")[0].last_used_at is not None
    assert acc.user_for_key(new.key[:-1] + ("A" if new.key[-1] != "A" else "B")) is None
    assert acc.user_for_key("sk-something-else") is None and acc.user_for_key("") is None

    second = acc.create_key("张三")
    revoked = acc.revoke_key("张三", new.info.id)
    assert not revoked.active and acc.user_for_key(new.key) is None
    assert acc.user_for_key(second.key).name == "张三"
    assert [k.active for k in acc.list_keys("张三")] == [False, True]
    with pytest.raises(AssistantError, match="没有编号为 999 的 API 密钥"):
        acc.revoke_key("张三", 999)
    acc.add("admin", PASSWORD, role="admin")
    acc.set_disabled("张三")
    assert acc.user_for_key(second.key) is None


# ---------------------------------------------------------------------------- history


def test_history_save_list_resume_search_delete(office, clock):
    acc, hist = office.accounts, office.history
    zs, ls = acc.add("张三", PASSWORD), acc.add("李四", PASSWORD)

    t1 = hist.save_turn(zs, "收受礼金怎么处分？", "给予警告或者严重警告处分[1]。", "answer", _citations(),
                        kbs=["default"], timings={"retrieve_ms": 12.5, "answer_ms": 3.25}, elapsed_ms=15.75)  # fmt: skip
    clock.advance(minutes=1)
    t2 = hist.save_turn(zs, "情节严重的呢？", "给予撤销党内职务处分[1]。", "answer", [c.as_dict() for c in _citations()[:1]],
                        conversation_id=t1.conversation_id, kbs=["制度"], elapsed_ms=9)  # fmt: skip
    clock.advance(minutes=1)
    t3 = hist.save_turn(zs, "100%的问题_怎么办", "知识库中没有依据。", "none")
    hist.save_turn(ls, "收受礼金", "李四的回答", "related")
    assert (t2.conversation_id, t2.seq) == (t1.conversation_id, 2) and t3.conversation_id != t1.conversation_id

    convs = hist.conversations(zs)
    assert [(c.id, c.turns) for c in convs] == [(t3.conversation_id, 1), (t1.conversation_id, 2)]
    assert convs[1].title == "收受礼金怎么处分？" and convs[1].kbs == ("default", "制度")

    detail = hist.get(zs, t1.conversation_id)
    assert detail.chat_history() == [("收受礼金怎么处分？", "给予警告或者严重警告处分[1]。"), ("情节严重的呢？", "给予撤销党内职务处分[1]。")]
    first = detail.turns[0]
    assert first.citations == tuple(_citations()) and first.citations[1].superseded
    assert dict(first.timings) == {"retrieve_ms": 12.5, "answer_ms": 3.25} and first.elapsed_ms == 15.75

    assert {h.turn.id for h in hist.search(zs, "礼金")} == {t1.id, t2.id}  # t2 via its conversation's title
    assert [h.turn.id for h in hist.search(zs, "撤销党内职务")] == [t2.id]
    assert [h.turn.id for h in hist.search(zs, "100%")] == [t3.id]
    assert [h.turn.id for h in hist.search(zs, "%")] == [t3.id]  # LIKE wildcards are searched as text
    assert [h.turn.id for h in hist.search(zs, "_怎")] == [t3.id]
    assert hist.search(zs, "李四的回答") == []  # never another user's turns

    with pytest.raises(AssistantError, match=f"对话编号 {t1.conversation_id} 不存在（或不属于用户 李四）"):
        hist.get(ls, t1.conversation_id)
    with pytest.raises(AssistantError, match="不属于用户 李四"):
        hist.delete(ls, t1.conversation_id)
    with pytest.raises(AssistantError, match="不属于用户 李四"):
        hist.save_turn(ls, "接着问", "", "none", conversation_id=t1.conversation_id)
    with pytest.raises(AssistantError, match="outcome='maybe'"):
        hist.save_turn(zs, "问题", "", "maybe")

    hist.delete(zs, t3.conversation_id)
    assert [c.id for c in hist.conversations(zs)] == [t1.conversation_id]
    assert hist.delete_all(zs) == 1 and hist.conversations(zs) == []
    with office.db.begin() as s:  # the turns went with their conversations; 李四's stay
        assert s.execute(text("SELECT count(*) FROM messages")).scalar_one() == 1


def test_history_exports_markdown_and_docx(office, tmp_path):
    from docx import Document as WordDocument

    zs = office.accounts.add("张三", PASSWORD)
    t = office.history.save_turn(zs, "收受礼金怎么处分？", "给予警告或者严重警告处分[1]。", "answer", _citations(), kbs=["default"])
    md = office.history.export_markdown(zs, t.conversation_id)
    assert "# 收受礼金怎么处分？" in md and "给予警告或者严重警告处分[1]。" in md
    assert "- [1] 《中国共产党纪律处分条例》第八十八条：“收受可能影响公正执行公务的礼品、礼金”" in md
    assert "- [2] 《中国共产党章程》(2017)第四十条〔旧版〕" in md and "有依据的回答" in md
    path = office.history.export_docx(zs, t.conversation_id, tmp_path / "out" / "对话.docx")
    paragraphs = [p.text for p in WordDocument(str(path)).paragraphs]
    assert "问1：收受礼金怎么处分？" in paragraphs and "给予警告或者严重警告处分[1]。" in paragraphs
    assert any(p.startswith("[1] 《中国共产党纪律处分条例》第八十八条") for p in paragraphs)


# ---------------------------------------------------------------------------- feedback


def test_feedback_review_and_export_round_trips_through_the_eval_format(office, tmp_path):
    acc, hist, fb = office.accounts, office.history, office.feedback
    admin, zs = acc.add("admin", PASSWORD, role="admin"), acc.add("张三", PASSWORD)
    cited = hist.save_turn(zs, "收受礼金怎么处分？", "给予警告处分[1]。", "answer", _citations(), kbs=["default"])
    wrong = hist.save_turn(zs, "打麻将赌钱怎么处理？", "……[1]", "answer", _citations()[:1])
    refused_ok = hist.save_turn(zs, "明天天气怎么样？", "知识库中没有依据。", "none")
    refused_bad = hist.save_turn(zs, "违规发放津贴补贴怎么处分", "未找到直接规定", "related")
    unsure = hist.save_turn(zs, "谈话函询多久回复", "……", "related")

    f1 = fb.give(zs, cited.id, 1, comment="准确")
    f2 = fb.give(zs, wrong.id, -1, comment="引错了条文", correct_answer="参与赌博的给予警告或者严重警告处分",
                 correct_article="《中国共产党纪律处分条例》第123条")  # fmt: skip
    f3 = fb.give(zs, refused_ok.id, 1)
    f4 = fb.give(zs, refused_bad.id, -1, comment="应该有规定")
    f5 = fb.give(zs, unsure.id, -1)
    assert f2.correct_article == "《中国共产党纪律处分条例》第123条" and f2.status == "new" and f2.user_name == "张三"
    assert f1.citations == tuple(_citations()) and f1.kbs == ("default",)

    with pytest.raises(AssistantError, match="rating=0"):
        fb.give(zs, cited.id, 0)
    with pytest.raises(AssistantError, match="没有写出文件名"):
        fb.give(zs, cited.id, -1, correct_article="第八条")
    ls = acc.add("李四", PASSWORD)
    with pytest.raises(AssistantError, match=f"回答编号 {cited.id} 不存在（或不属于用户 李四）"):
        fb.give(ls, cited.id, 1)
    with pytest.raises(AssistantError, match="不是管理员"):
        fb.review(zs, f1.id, True)

    assert fb.review(admin, f1.id, True, keypoints=["警告", "警告"]).keypoints == ("警告",)
    fb.review(admin, f2.id, True, note="条文已核对", keypoints=["警告|严重警告"])
    fb.review(admin, f3.id, True)
    with pytest.raises(AssistantError, match=f"反馈 #{f4.id} 是对“未回答”的差评，但没有填写正确条文"):
        fb.review(admin, f4.id, True)
    assert fb.get(f4.id).status == "new"  # the refused acceptance left nothing behind
    fb.review(admin, f4.id, True, correct_article="《中国共产党纪律处分条例》第一百零五条；监察法 第10条")
    rejected = fb.review(admin, f5.id, False, note="问题不清楚")
    assert rejected.status == "rejected" and rejected.reviewer_name == "admin"
    assert [f.id for f in fb.entries(status="new")] == []
    assert {f.id for f in fb.entries(status="accepted")} == {f1.id, f2.id, f3.id, f4.id}

    hist.delete_all(zs)  # deleting the history keeps the feedback (it has its own copy)
    assert fb.get(f1.id).message_id is None and fb.get(f1.id).question == "收受礼金怎么处分？"

    out = tmp_path / "set.jsonl"
    assert fb.export_eval(out) == 4
    items = {i.id: i for i in load_qa(out)}
    assert set(items) == {f"feedback-{f.id}" for f in (f1, f2, f3, f4)}
    i1, i2, i3, i4 = (items[f"feedback-{f.id}"] for f in (f1, f2, f3, f4))
    assert i1.answerable and i1.type == "policy" and i1.keypoints == ("警告",) and i1.style == "反馈"
    assert [g.as_dict() for g in i1.gold] == [
        {"doc": "中国共产党纪律处分条例", "article": "第八十八条"},
        {"doc": "中国共产党章程(2017)", "article": "第四十条"},
    ]
    assert [g.as_dict() for g in i2.gold] == [{"doc": "中国共产党纪律处分条例", "article": "第一百二十三条"}]
    assert "正确答案：参与赌博的给予警告或者严重警告处分" in i2.notes and "审核：条文已核对" in i2.notes
    assert i3.question == "明天天气怎么样？" and not i3.answerable and i3.type == "unanswerable" and i3.gold == ()
    assert [g.as_dict() for g in i4.gold] == [
        {"doc": "中国共产党纪律处分条例", "article": "第一百零五条"},
        {"doc": "监察法", "article": "第十条"},
    ]


def test_chinese_article_numbers():
    from assistant.office.feedback import parse_articles

    cases = {1: "一", 10: "十", 11: "十一", 20: "二十", 88: "八十八", 100: "一百", 105: "一百零五", 110: "一百一十", 1001: "一千零一"}
    assert {n: parse_articles(f"《条例》第{n}条")[0]["article"] for n in cases} == {n: f"第{v}条" for n, v in cases.items()}


# ---------------------------------------------------------------------------- audit


def test_audit_is_append_only_and_exports_csv(office, tmp_path, clock):
    zs = office.accounts.add("张三", PASSWORD)
    audit = office.audit
    first = audit.append("ask", zs, client="api 10.0.0.1", question="收受礼金怎么处分？", kbs=["default"], outcome="answer",
                         citations=_citations(), elapsed_ms=120.5)  # fmt: skip
    clock.advance(seconds=3)
    audit.append("login_failed", user_name="nobody", client="ui 10.0.0.9", detail="用户名或密码错误")
    assert first.citations[0] == {"n": 1, "label": "《中国共产党纪律处分条例》第八十八条", "chunk_id": "c1", "kb": "default"}

    from assistant.office.models import AuditEntry

    # the ORM refuses changes and deletions
    with pytest.raises(AssistantError, match="审计记录只能追加"), office.db.begin() as s:
        s.get(AuditEntry, first.id).question = "改过的问题"
    with pytest.raises(AssistantError, match="审计记录只能追加"), office.db.begin() as s:
        s.delete(s.get(AuditEntry, first.id))
    from sqlalchemy import delete as sql_delete
    from sqlalchemy import update as sql_update

    with pytest.raises(AssistantError, match="审计记录只能追加"), office.db.begin() as s:
        s.execute(sql_update(AuditEntry).values(question="x"))
    with pytest.raises(AssistantError, match="审计记录只能追加"), office.db.begin() as s:
        s.execute(sql_delete(AuditEntry))
    for sql in ("UPDATE audit SET question = 'x'", "DELETE FROM audit"):  # raw SQL: the database's triggers refuse it
        with pytest.raises(Exception, match="append-only"), office.db.engine.begin() as conn:
            conn.execute(text(sql))
    if office.db.dialect == "postgresql":
        with pytest.raises(Exception, match="append-only"), office.db.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit"))
    assert [e.question for e in audit.entries()] == ["收受礼金怎么处分？", ""]
    assert [e.action for e in audit.entries(user_name="张三")] == ["ask"]
    assert [e.action for e in audit.entries(limit=1)] == ["login_failed"]

    path = tmp_path / "audit.csv"
    assert audit.export_csv(path) == 2
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig", newline="")))
    assert [r["action"] for r in rows] == ["ask", "login_failed"]
    assert rows[0]["user_name"] == "张三" and rows[0]["kbs"] == "default" and rows[0]["elapsed_ms"] == "120.5"
    assert rows[0]["at"] == "2026-12-01T09:00:00+00:00" and json.loads(rows[0]["citations"])[1]["chunk_id"] == "c2"
    assert rows[1]["user_id"] == "" and rows[1]["detail"] == "用户名或密码错误"
    assert audit.export_csv(tmp_path / "later.csv", since=clock.now) == 1


def test_statistics(office, clock):
    zs, ls = office.accounts.add("张三", PASSWORD), office.accounts.add("李四", PASSWORD)
    audit = office.audit
    asked = [  # (day offset, hour UTC, user, question, outcome, ms)
        (0, 1, zs, "收受礼金怎么处分？", "answer", 100.0),
        (0, 2, ls, "收受礼金怎么处分？", "answer", 80.0),
        (0, 3, zs, "明天天气怎么样？", "none", 20.0),
        (1, 4, ls, "明天天气怎么样？", "none", 25.0),
        (1, 5, zs, "明天天气怎么样？", "related", 30.0),
        (1, 6, zs, "谈话函询多久回复", "related", 900.0),
        (2, 20, ls, "收受礼金怎么处分？", "answer", 300.0),  # 20:00 UTC = 04:00 next day in Beijing
    ]
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for day, hour, user, q, outcome, ms in asked:
        clock.now = start + timedelta(days=day, hours=hour)
        audit.append("ask", user, question=q, kbs=["default"], outcome=outcome, elapsed_ms=ms)
    audit.append("search", zs, question="四种形态", elapsed_ms=5000.0)  # not a question: not counted
    audit.append("login", zs)

    assert audit.questions_per_day() == [
        DayCount(date(2026, 12, 1), 3, 1),
        DayCount(date(2026, 12, 2), 3, 3),
        DayCount(date(2026, 12, 3), 1, 0),
    ]
    beijing = audit.questions_per_day(utc_offset_hours=8)
    assert [(d.day, d.questions) for d in beijing] == [(date(2026, 12, 1), 3), (date(2026, 12, 2), 3), (date(2026, 12, 4), 1)]
    rate = audit.refusal_rate()
    assert (rate.questions, rate.refused) == (7, 4) and rate.rate == pytest.approx(4 / 7)
    assert audit.refusal_rate(since=start + timedelta(days=1), until=start + timedelta(days=2)).rate == 1.0
    assert audit.refusal_rate(since=start + timedelta(days=30)).rate == 0.0
    top = audit.top_questions(2)
    assert [(t.question, t.count, t.refused) for t in top] == [("收受礼金怎么处分？", 3, 0), ("明天天气怎么样？", 3, 3)]
    refused = audit.top_refused()
    assert [(t.question, t.count) for t in refused] == [("明天天气怎么样？", 3), ("谈话函询多久回复", 1)]
    slow = audit.slowest(2)
    assert [(s.question, s.elapsed_ms, s.user_name) for s in slow] == [("谈话函询多久回复", 900.0, "张三"), ("收受礼金怎么处分？", 300.0, "李四")]
