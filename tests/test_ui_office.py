"""The web UI with the office's accounts (issue 12 items 1–5): logins (rate limited, required off loopback), each user's
knowledge bases, saved history (resume, search, export, delete), feedback and the admin pages; handlers called
directly, then one run in headless Chromium."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import gradio as gr
import pytest
from fastapi import HTTPException
from pydantic import SecretStr
from ui_fixtures import DUTY_QUOTE, make_service

from assistant.app.office import Services, open_office
from assistant.core.errors import AssistantError
from assistant.core.settings import Settings
from assistant.faces.ui.app import build_app, launch_kwargs
from assistant.faces.ui.history import OfficePage
from assistant.faces.ui.office_ui import OfficeUI, open_office_ui

QUESTION = "一岗双责要求我做什么？"
PASSWORD = "一句够长的密码-1"
OTHER_RULE = """# 廉洁自律补充规定

第一条 党员干部不得收受可能影响公正执行公务的礼品礼金。
"""
GIFT_QUOTE = "党员干部不得收受可能影响公正执行公务的礼品礼金"


def _req(name: str | None) -> gr.Request:
    return gr.Request(username=name)


def _path(value) -> Path:
    """A DownloadButton's value: the file's path (gradio may wrap it as a FileData dict)."""
    return Path(value["path"] if isinstance(value, dict) else value)


def _last(gen):
    out = list(gen)
    return out[-1]


@pytest.fixture()
def office_page(tmp_path):
    """Two knowledge bases (default: the duty regulation; 廉洁: the gift rule), an admin, a reader granted 廉洁 only,
    and the office page over them."""
    from assistant.app.compose import build

    service = make_service(tmp_path)
    other_dir = tmp_path / "knowledge-廉洁"
    other_dir.mkdir()
    (other_dir / "廉洁规定.md").write_text(OTHER_RULE, "utf-8")
    other = build(service.settings.model_copy(update={"kb": "廉洁", "knowledge_dir": other_dir}))
    other.ingest(show_bar=False)
    office = open_office(service.settings)
    office.accounts.add("管理员", PASSWORD, role="admin")
    office.accounts.add("张三", PASSWORD)
    office.accounts.grant("张三", "廉洁")
    services = Services(service.settings)
    services.add(service)
    services.add(other)
    ui = OfficeUI(service.settings, office, services)
    page = OfficePage(ui)
    yield service, ui, page
    office.close()


# ------------------------------------------------------------------ logins


def test_login_against_the_accounts_is_rate_limited_and_audited(office_page):
    service, ui, _ = office_page
    assert ui.auth("张三", PASSWORD) is True
    assert ui.auth("张三", "错误的密码-000") is False
    assert ui.auth("没有这个人", PASSWORD) is False
    for _ in range(4):
        assert ui.auth("张三", "错误的密码-000") is False
    with pytest.raises(HTTPException) as throttled:  # the sixth try within the minute, even with the right password
        ui.auth("张三", PASSWORD)
    assert throttled.value.status_code == 429 and "登录失败次数过多" in throttled.value.detail
    assert int(throttled.value.headers["Retry-After"]) >= 1
    actions = [e.action for e in ui.office.audit.entries()]
    assert actions.count("login") == 1 and actions.count("login_failed") == 6 and actions.count("login_throttled") == 1

    kw = launch_kwargs(service.settings, ui)
    assert kw["auth"] == ui.auth and "办公账号" in kw["auth_message"]
    assert kw["app_kwargs"]["middleware"]  # the session middleware: expiry and the client's address


def test_non_loopback_needs_a_login(tmp_path):
    with pytest.raises(AssistantError) as e:
        launch_kwargs(Settings(host="0.0.0.0", index_dir=tmp_path))
    assert "0.0.0.0" in e.value.message and "assistant user add" in e.value.fix and "ASSISTANT_AUTH_USER" in e.value.fix
    kw = launch_kwargs(Settings(host="0.0.0.0", auth_user="a", auth_password=SecretStr("b")))
    assert kw["auth"] == ("a", "b")
    assert "auth" not in launch_kwargs(Settings(host="127.0.0.1"))


def test_office_mode_only_when_accounts_exist(tmp_path):
    settings = Settings(index_dir=tmp_path / "index", embedder="hash")
    assert open_office_ui(settings) is None
    with open_office(settings) as office:
        office.accounts.add("管理员", PASSWORD, role="admin")
    ui = open_office_ui(settings)
    assert isinstance(ui, OfficeUI)
    ui.office.close()


def test_a_session_ends_when_its_office_session_ends(office_page):
    _, ui, _ = office_page
    result = ui.office.accounts.login("张三", PASSWORD)
    tokens = {"g1": "张三", "g2": "张三"}
    ui.session_check_seconds = 0  # check the office session on every request
    ui.bind("g1", result.token)
    ui.check_session(tokens, "g1")
    ui.check_session(tokens, "g2")  # a Gradio token no office login issued is dropped
    assert tokens == {"g1": "张三"}
    ui.office.accounts.passwd("张三", "另一句够长的密码-2")  # a password change ends the office session
    ui.check_session(tokens, "g1")
    assert tokens == {}


# ------------------------------------------------------------------ knowledge bases per user


def test_a_reader_sees_and_asks_only_granted_knowledge_bases(office_page):
    _, ui, page = office_page
    assert page.kb_choices(_req("张三")).choices == [("廉洁", "廉洁")]
    assert sorted(c[0] for c in page.kb_choices(_req("管理员")).choices) == ["default", "廉洁"]
    with pytest.raises(AssistantError, match="无权查询"):
        list(page.respond(QUESTION, [], "hybrid", "default", None, _req("张三")))
    with pytest.raises(AssistantError, match="没有登录"):
        list(page.respond(QUESTION, [], "hybrid", "廉洁", None, _req(None)))

    # The reader's question goes to 廉洁 even when the page sends nothing; nothing from default is cited or shown.
    messages, turns, sources, *_ = _last(page.respond(QUESTION, [], "hybrid", None, None, _req("张三")))
    assert DUTY_QUOTE not in messages[-1]["content"] and DUTY_QUOTE not in sources
    assert turns[-1]["kb"] == "廉洁"
    saved = ui.office.history.get(ui.office.accounts.get("张三"), ui.office.history.conversations(ui.office.accounts.get("张三"))[0].id)
    assert all(c.kb == "廉洁" for t in saved.turns for c in t.citations)

    messages, turns, sources, *_ = _last(page.respond("收受礼品礼金有什么规定？", [], "hybrid", "廉洁", None, _req("张三")))
    assert GIFT_QUOTE in sources and turns[-1]["kb"] == "廉洁"
    assert "张三" in page.whoami(_req("张三")) and "读者" in page.whoami(_req("张三"))

    # The /ask API in office mode: the user's knowledge base, saved to their history like the chat.
    result = page.ask("收受礼品礼金有什么规定？", None, "", _req("张三"))
    assert result["kb"] == "廉洁" and any(GIFT_QUOTE in c["quote"] for c in result["citations"])
    assert all(DUTY_QUOTE not in c["quote"] for c in result["citations"])
    assert ui.office.history.get(ui.office.accounts.get("张三"), result["conversation_id"]).turns[0].id == result["message_id"]


# ------------------------------------------------------------------ history


def test_every_answer_is_saved_resumable_searchable_exportable_and_deletable(office_page, tmp_path):
    from docx import Document

    _, ui, page = office_page
    admin = ui.office.accounts.get("管理员")
    outs = _last(page.respond(QUESTION, [], "hybrid", "default", None, _req("管理员")))
    messages, turns, sources, cid, history = outs
    assert isinstance(cid, int) and history.value == cid
    assert [label for label, _ in history.choices][0].startswith(QUESTION)
    outs = _last(page.respond("第三条规定了什么？", turns, "bm25", "default", cid, _req("管理员")))
    assert outs[3] == cid

    detail = ui.office.history.get(admin, cid)
    assert [t.question for t in detail.turns] == [QUESTION, "第三条规定了什么？"]
    first = detail.turns[0]
    assert first.outcome == "answer" and first.elapsed_ms > 0 and dict(first.timings)["total_ms"] > 0
    assert any(DUTY_QUOTE in c.quote and c.kb == "default" and c.article == "第二条" for c in first.citations)
    asks = [e for e in ui.office.audit.entries(action="ask")]
    assert [e.question for e in asks] == [QUESTION, "第三条规定了什么？"] and asks[0].client.startswith("web")

    # resume: the saved turns come back into the chat with their citations
    messages, turns, sources, resumed, kb, md, docx, _confirm = page.resume(cid, _req("管理员"))
    assert resumed == cid and len(messages) == 4 and 'class="cite"' in messages[1]["content"]
    assert [t["q"] for t in turns] == [QUESTION, "第三条规定了什么？"] and turns[0]["message_id"] == first.id
    assert kb.value == "default"
    md_text = _path(md.value).read_text("utf-8")
    assert f"## 问1：{QUESTION}" in md_text and DUTY_QUOTE in md_text
    body = "\n".join(p.text for p in Document(_path(docx.value)).paragraphs)
    assert QUESTION in body and DUTY_QUOTE in body
    assert zipfile.is_zipfile(_path(docx.value))

    # search, and nobody else's history
    assert [cid] == [c for _, c in page.history_list("第三条", None, _req("管理员")).choices]
    assert page.history_list("没有出现过的词", None, _req("管理员")).choices == []
    assert page.history_list("", None, _req("张三")).choices == []
    with pytest.raises(AssistantError, match="不存在"):
        page.resume(cid, _req("张三"))
    with pytest.raises(AssistantError, match="不存在"):
        page.delete(cid, "", _req("张三"))

    # delete: asks first, then removes it (audited)
    shown, question = page.ask_delete(cid, _req("管理员"))
    assert shown.visible is True and "确定删除" in question
    radio, messages, turns, sources, conv, *_ = page.delete(cid, "", _req("管理员"))
    assert radio.choices == [] and conv is None and messages == []
    assert ui.office.history.conversations(admin) == []
    assert "conversation_delete" in [e.action for e in ui.office.audit.entries()]


def test_a_revoked_grant_withholds_saved_quotes(office_page):
    _, ui, page = office_page
    outs = _last(page.respond("收受礼品礼金有什么规定？", [], "hybrid", "廉洁", None, _req("张三")))
    cid = outs[3]
    assert GIFT_QUOTE in page.resume(cid, _req("张三"))[2]
    ui.office.accounts.revoke("张三", "廉洁")
    messages, turns, sources, *_ , md, docx, _c = page.resume(cid, _req("张三"))
    assert GIFT_QUOTE not in sources and GIFT_QUOTE not in messages[1]["content"] and "无权查询的知识库 廉洁" in sources
    assert GIFT_QUOTE not in _path(md.value).read_text("utf-8")


# ------------------------------------------------------------------ feedback and the admin pages


def test_feedback_is_stored_and_reviewed_by_admins_only(office_page):
    _, ui, page = office_page
    from assistant.faces.ui.feedback import FeedbackForm

    form = FeedbackForm(page)
    outs = _last(page.respond(QUESTION, [], "hybrid", None, None, _req("张三")))  # 张三 reads 廉洁 only: not an answer
    turns = outs[1]
    like = gr.LikeData(None, {"index": 1, "value": turns[0]["html"], "liked": False})
    group, target, rating, about = form.rate(turns, like, _req("张三"))
    assert group.visible is True and target == turns[0]["message_id"] and rating == -1 and "👎" in about
    [fb] = ui.office.feedback.entries()
    assert fb.rating == -1 and fb.question == QUESTION and fb.status == "new" and fb.user_name == "张三"

    with pytest.raises(AssistantError, match="文件名"):
        form.send(target, -1, "", "", "第二条", _req("张三"))  # an article without its document
    *_, done = form.send(target, -1, "答非所问", "应当履行一岗双责", "《党委（党组）落实全面从严治党主体责任规定》第二条", _req("张三"))
    assert f"#{fb.id}" in done
    fb = ui.office.feedback.get(fb.id)
    assert (fb.comment, fb.correct_answer) == ("答非所问", "应当履行一岗双责")
    assert fb.correct_article == "《党委（党组）落实全面从严治党主体责任规定》第二条"
    with pytest.raises(AssistantError, match="不存在"):  # nobody rates another user's answer
        form.rate(turns, like, _req("管理员"))

    page.admin = admin = __import__("assistant.faces.ui.admin_tab", fromlist=["AdminTabs"]).AdminTabs(page)
    for call in (lambda r: admin.feedback_list("new", r), lambda r: admin.stats(30, r), lambda r: admin.audit_csv(30, r),
                 lambda r: admin.accept(fb.id, "", "", "", "new", r)):  # fmt: skip
        with pytest.raises(AssistantError, match="不是管理员"):
            call(_req("张三"))
    assert [c.visible for c in admin.show_for(_req("张三"))] == [False] * 4  # tabs and content hidden
    assert [c.visible for c in admin.show_for(_req(None))] == [False] * 4
    assert [c.visible for c in admin.show_for(_req("管理员"))] == [True] * 4
    assert admin.on_stats_tab(30, _req("张三")) == (gr.skip(),) * 6  # opening the tab does nothing for a reader

    rows = admin.feedback_list("new", _req("管理员"))
    assert rows[0][0] == fb.id and rows[0][3] == "差评" and rows[0][4] == QUESTION
    chosen, detail, article, keypoints, note = admin.pick_feedback(rows, gr.SelectData(None, {"index": [0, 4], "value": QUESTION}), _req("管理员"))
    assert chosen == fb.id and "答非所问" in detail and article == fb.correct_article
    rows, detail, done = admin.accept(fb.id, article, "一岗双责；分管领域", "确认", "new", _req("管理员"))
    assert rows == [] and "已接受" in done
    fb = ui.office.feedback.get(fb.id)
    assert fb.status == "accepted" and fb.reviewer_name == "管理员" and fb.keypoints == ("一岗双责", "分管领域")
    assert "feedback_review" in [e.action for e in ui.office.audit.entries()]


def test_admin_statistics_and_audit_csv(office_page):
    _, ui, page = office_page
    from assistant.faces.ui.admin_tab import AdminTabs

    admin = AdminTabs(page)
    for _ in range(2):
        _last(page.respond(QUESTION, [], "hybrid", "default", None, _req("管理员")))
    _last(page.respond(QUESTION, [], "hybrid", None, None, _req("张三")))  # not in 张三's knowledge base
    summary, daily, refusal, top, refused, slowest = admin.stats(30, _req("管理员"))
    assert "提问 <b>3</b> 次" in summary
    assert daily["提问数"].sum() == 3 and list(daily.columns) == ["日期", "提问数", "拒答数", "拒答率（%）"]
    assert daily["拒答数"].sum() == (refused["次数"].sum() if len(refused) else 0)
    assert top.iloc[0]["次数"] == 3 and QUESTION[:10] in top.iloc[0]["问题"]
    assert len(slowest) == 3 and (slowest["用时（秒）"] > 0).all()
    path = _path(admin.audit_csv(30, _req("管理员")).value)
    text = path.read_text("utf-8-sig")
    assert text.splitlines()[0].startswith("id,at,user_id,user_name,action") and text.count(QUESTION) >= 3
    assert "audit_export" in [e.action for e in ui.office.audit.entries()]


def test_the_app_builds_in_office_mode(office_page):
    service, ui, _ = office_page
    demo = build_app(service, office=ui)
    assert demo.office_ui is ui
    config = demo.get_config_file()
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {"history-list", "history-search", "kb-choice", "feedback-form", "fb-table", "stats-per-day"} <= ids


# ------------------------------------------------------------------ over HTTP and in the browser


@pytest.mark.integration
def test_http_login_is_rate_limited_by_address_and_ends_with_the_office_session(office_page):
    import httpx

    from assistant.faces.ui.app import launch

    service, ui, _ = office_page
    ui.session_check_seconds = 0  # check the office session on every request
    demo = build_app(service, office=ui)
    _app, url, _ = launch(demo, service.settings, prevent_thread_lock=True, quiet=True)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/config").status_code in (401, 403)
            assert c.post("/login", data={"username": "张三", "password": PASSWORD}).status_code == 200
            assert c.get("/config").status_code == 200
            login = [e for e in ui.office.audit.entries() if e.action == "login"][-1]
            assert login.user_name == "张三" and login.client == "web 127.0.0.1"
            ui.office.accounts.set_disabled("张三")  # ends the office session, so the page's login ends too
            assert c.get("/config").status_code in (401, 403)
        with httpx.Client(base_url=url, timeout=30) as c:
            for _ in range(5):
                assert c.post("/login", data={"username": "管理员", "password": "错误的密码-000"}).status_code == 400
            throttled = c.post("/login", data={"username": "管理员", "password": PASSWORD})
            assert throttled.status_code == 429 and "登录失败次数过多" in throttled.json()["detail"]
            assert int(throttled.headers["retry-after"]) >= 1
            assert c.get("/config").status_code in (401, 403)
    finally:
        demo.close()


# ------------------------------------------------------------------ the whole page in the browser


@pytest.mark.integration
def test_log_in_ask_reload_and_resume_in_the_browser(office_page):
    from test_ui_browser import ARGS, CHROMIUM, ask

    from assistant.faces.ui.app import launch

    if not CHROMIUM.is_file():
        pytest.skip("Debian package chromium is not installed (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    service, ui, _ = office_page
    demo = build_app(service, office=ui)
    _app, url, _ = launch(demo, service.settings, prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
            page.goto(url)
            page.locator("input[type=text], textarea").first.fill("管理员")
            page.locator("input[type=password]").fill(PASSWORD)
            page.get_by_role("button", name=re.compile("登录|Login")).click()
            page.wait_for_selector("#question textarea", timeout=30_000)
            ask(page, QUESTION)
            assert "一岗双责" in page.locator("#chatbot .answer").last.inner_text()
            assert DUTY_QUOTE in page.locator("#sources").inner_text()

            page.reload()
            page.wait_for_selector("#history-list label", timeout=30_000)
            assert QUESTION in page.locator("#history-list").inner_text()
            assert page.locator("#chatbot .answer").count() == 0
            page.locator("#history-list label").filter(has_text=QUESTION).first.click()
            page.wait_for_selector("#chatbot .answer .cite", timeout=20_000)
            assert DUTY_QUOTE in page.locator("#sources").inner_text()
            page.locator("button[role=tab][data-tab-id=stats]:visible").first.click()
            page.wait_for_selector("#stats-summary .stats-summary", timeout=20_000)
            assert "提问 1 次" in page.locator("#stats-summary").inner_text()
            browser.close()
    finally:
        demo.close()


@pytest.mark.integration
def test_admin_tabs_show_only_after_an_admin_logs_in(office_page):
    """A reader sees no 反馈/统计 tab at all (not just an empty page); logging out and in as an admin in the same
    browser shows them, and 统计 opens."""
    from test_ui_browser import ARGS, CHROMIUM

    from assistant.faces.ui.app import launch

    if not CHROMIUM.is_file():
        pytest.skip("Debian package chromium is not installed (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    def log_in(page, name: str) -> None:
        page.goto(url)
        page.locator("input[type=text], textarea").first.fill(name)
        page.locator("input[type=password]").fill(PASSWORD)
        page.get_by_role("button", name=re.compile("登录|Login")).click()
        page.wait_for_selector("#question textarea", timeout=30_000)

    service, ui, _ = office_page
    demo = build_app(service, office=ui)
    _app, url, _ = launch(demo, service.settings, prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
            log_in(page, "张三")
            page.wait_for_timeout(1500)  # the page load's show_for has run by now
            tabs = page.locator("button[role=tab]:visible")
            assert "问答" in tabs.all_inner_texts()
            assert not {"反馈", "统计"} & {t.strip() for t in tabs.all_inner_texts()}
            assert page.locator("button[role=tab][data-tab-id=stats]:visible, #stats-body:visible").count() == 0
            assert page.get_by_text("仅限管理员").count() == 0

            page.goto(url.rstrip("/") + "/logout")
            log_in(page, "管理员")
            page.wait_for_selector("button[role=tab][data-tab-id=stats]:visible", timeout=20_000)
            assert {"反馈", "统计"} <= {t.strip() for t in page.locator("button[role=tab]:visible").all_inner_texts()}
            assert page.locator("button[role=tab][data-tab-id=stats]:visible").count() == 1  # shown once, not duplicated
            page.locator("button[role=tab][data-tab-id=stats]:visible").first.click()
            page.wait_for_selector("#stats-summary .stats-summary", timeout=20_000)
            browser.close()
    finally:
        demo.close()


def test_serve_refuses_a_network_address_without_a_login(tmp_path, monkeypatch, capsys):
    from assistant.faces.cli.main import main

    monkeypatch.setenv("ASSISTANT_CONFIG", "")
    for var in ("ASSISTANT_AUTH_USER", "ASSISTANT_AUTH_PASSWORD", "ASSISTANT_HOST", "ASSISTANT_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    rc = main(["--index-dir", str(tmp_path / "index"), "--embedder", "hash", "serve", "--host", "0.0.0.0", "--no-ingest"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "0.0.0.0" in err and "assistant user add" in err and "ASSISTANT_AUTH_USER" in err
    assert "Traceback" not in err


def test_only_editors_change_a_knowledge_base_from_the_page(office_page):
    service, ui, _ = office_page
    demo = build_app(service, office=ui)
    button = next(i for i, b in demo.blocks.items() if getattr(b, "elem_id", None) == "kb-remove")
    remove = next(f for f in demo.fns.values() if any(t[0] == button for t in f.targets))
    with pytest.raises(gr.Error, match="不能修改知识库 default"):
        list(remove.fn("主体责任规定.md", _req("张三")))
    assert [d.path for d in service.documents()] == ["主体责任规定.md"]
    assert ui.editor(_req("管理员"), "default").name == "管理员"
    ui.office.accounts.set_role("张三", "editor")
    ui.office.accounts.grant("张三", "default", role="editor")
    assert ui.editor(_req("张三"), "default").name == "张三"
