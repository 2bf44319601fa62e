"""The 原文 view (app.documents.document_view and faces/web/doc_page.py), the 版本对比 page, the answer's note on an
article changed since the earlier version, kb sync (one pass and --watch) and 已废止 documents."""

from __future__ import annotations

import dataclasses
import queue
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_ui_browser import ARTIFACTS, ask, browser  # noqa: F401 - the Chromium fixture
from ui_fixtures import DUTY_QUOTE, REGULATION

from assistant.app.documents import (
    REPEAL_FILE,
    build_view,
    document_file,
    document_view,
    numbered,
    repealed_titles,
    set_repealed,
    version_diff,
    version_notes,
)
from assistant.app.sync import SyncEvent, changed_files, folder_stamp, sync, watch
from assistant.core.errors import AssistantError
from assistant.core.types import Answer, Citation
from assistant.faces.web.doc_page import mount

OLD = """# 示例廉政规定

## 第一章 总则

第一条 为了加强廉政建设，制定本规定。

第二条 本规定适用于各级党组织。

## 第二章 要求

第三条 党组织应当每年向上级报告落实情况。
"""
NEW = """# 示例廉政规定

## 第一章 总则

第一条 为了加强廉政建设，制定本规定。

第二条 党员领导干部应当落实一岗双责，对分管领域的党风廉政建设负领导责任。

第三条 本规定适用于各级党组织和党员领导干部。

## 第二章 要求

第四条 党组织应当每年向上级报告落实情况。
"""
REPORT_Q = "党组织多久向上级报告一次落实情况？"


@pytest.fixture()
def kb(hash_service):
    k = hash_service.settings.knowledge_dir
    (k / "主体责任规定.md").write_text(REGULATION, "utf-8")
    (k / "示例廉政规定(2018).md").write_text(OLD, "utf-8")
    (k / "示例廉政规定(2024).md").write_text(NEW, "utf-8")
    hash_service.ingest(show_bar=False)
    return hash_service


def doc_id(service, name: str) -> str:
    return next(c.doc_id for c in service.reader().chunks if c.source == name)


@pytest.fixture()
def client(kb):
    app = FastAPI()
    mount(app, kb)
    return TestClient(app)


# ---------------------------------------------------------------- the view


def test_document_view_articles_paths_and_status(kb):
    view = document_view(kb, doc_id(kb, "主体责任规定.md"))
    assert view.title == "党委（党组）落实全面从严治党主体责任规定"
    assert [a.article for a in view.articles] == ["第一条", "第二条", "第三条", "第四条"]
    assert [a.path for a in view.articles] == [("第一章 总则",), ("第二章 责任内容",), ("第二章 责任内容",), ("第二章 责任内容",)]
    assert view.article("第二条").text.startswith("第二条 党委（党组）领导班子其他成员") and DUTY_QUOTE in view.article("第二条").text
    assert view.status == "现行有效" and view.successor == "" and view.source == "主体责任规定.md"

    old = document_view(kb, doc_id(kb, "示例廉政规定(2018).md"))
    new_id = doc_id(kb, "示例廉政规定(2024).md")
    assert (old.status, old.successor, old.successor_id) == ("旧版", "2024年版", new_id)
    assert old.versions == (("2018", old.doc_id), ("2024", new_id))
    # a saved citation names the chunk: the page finds its document
    chunk = next(c for c in kb.reader().chunks if c.source == "主体责任规定.md" and c.article == "第三条")
    assert document_view(kb, chunk.id).doc_id == chunk.doc_id
    with pytest.raises(AssistantError, match="没有编号为 nosuchdoc"):
        document_view(kb, "nosuchdoc")


def test_long_article_parts_are_joined_once(hash_service):
    k = hash_service.settings.knowledge_dir
    items = "".join(f"（{n}）第{n}项要求是认真落实廉政建设责任并如实报告执行情况，接受监督检查，做到有错必纠。\n" for n in "一二三四五六七八九十")
    (k / "长条文规定.md").write_text(f"# 长条文规定\n\n第一条 党组织应当履行下列职责：\n{items}\n第二条 本规定自发布之日起施行。\n", "utf-8")
    hash_service.settings = hash_service.settings.model_copy(update={"chunk_max_chars": 200})
    hash_service.ingest(show_bar=False)
    chunks = [c for c in hash_service.reader().chunks if c.article == "第一条"]
    assert len(chunks) > 1  # the article was split at its items
    view = document_view(hash_service, chunks[0].doc_id)
    assert [a.article for a in view.articles] == ["第一条", "第二条"]
    first = view.article("第一条").text
    assert all(c.text in first for c in chunks) and first.count("（十）") == 1 and first.count("应当履行下列职责") == 1


# ---------------------------------------------------------------- the pages


def test_doc_page_anchors_highlight_banner_and_download(kb, client):
    did = doc_id(kb, "主体责任规定.md")
    r = client.get(f"/doc/{did}?hl={quote(DUTY_QUOTE)}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    for n in ("第一条", "第二条", "第三条", "第四条"):
        assert f'<section class="art" id="{n}">' in page
    assert f'<mark class="hl">{DUTY_QUOTE}</mark>' in page
    assert page.index('id="第二条"') < page.index('<mark class="hl">') < page.index('id="第三条"')
    assert '<h2 class="path">第一章 总则</h2>' in page and '<h2 class="path">第二章 责任内容</h2>' in page
    assert '<div class="banner current">现行有效</div>' in page
    assert "<script" not in page and "default-src 'none'" in r.headers["content-security-policy"]

    r = client.get(f"/doc/{did}/file")
    assert r.status_code == 200 and r.content == (kb.settings.knowledge_dir / "主体责任规定.md").read_bytes()
    assert "attachment" in r.headers["content-disposition"]

    old = client.get(f"/doc/{doc_id(kb, '示例廉政规定(2018).md')}").text
    assert "旧版：已被2024年版取代" in old and f'href="/doc/{doc_id(kb, "示例廉政规定(2024).md")}"' in old
    assert "/versions/" in old and "from=2018" in old and "to=2024" in old


def test_doc_page_refuses_unknown_ids_and_paths(kb, client):
    r = client.get("/doc/0123456789ab")
    assert r.status_code == 404 and "没有编号为 0123456789ab" in r.text
    for bad in ("/doc/..%2F..%2F..%2Fetc%2Fpasswd/file", "/doc/%2Fetc%2Fpasswd/file", "/doc/../../etc/passwd/file"):
        r = client.get(bad)
        assert r.status_code == 404 and "root:" not in r.text
    # a document whose recorded path points outside the knowledge folder is never served
    view = document_view(kb, doc_id(kb, "主体责任规定.md"))
    with pytest.raises(AssistantError, match="已不在知识库文件夹中"):
        document_file(kb, dataclasses.replace(view, source="../../../../etc/passwd"))
    # a file deleted since it was indexed: the page says so instead of failing
    (kb.settings.knowledge_dir / "主体责任规定.md").unlink()
    r = client.get(f"/doc/{view.doc_id}/file")
    assert r.status_code == 404 and "已不在知识库文件夹中" in r.text


def test_version_compare_page(kb, client):
    diff, old, new = version_diff(kb, "示例廉政规定", "2018", "2024")
    assert diff.counts == {"未变": 2, "修改": 1, "新增": 1, "删除": 0}
    pairs = [(c.status, c.old.number if c.old else None, c.new.number if c.new else None) for c in diff.changes]
    assert pairs == [("未变", "第一条", "第一条"), ("新增", None, "第二条"), ("修改", "第二条", "第三条"), ("未变", "第三条", "第四条")]
    r = client.get(f"/versions/{quote('示例廉政规定')}?from=2018&to=2024")
    assert r.status_code == 200
    page = r.text
    assert "未变 2 条，修改 1 条，新增 1 条，删除 0 条" in page
    assert "<ins>和党员领导干部</ins>" in page
    assert '<tr class="s-新增">' in page and "一岗双责" in page
    assert "（内容未变，仅条号变化）" in page
    only = client.get(f"/versions/{quote('示例廉政规定')}?from=2018&to=2024&changed=1").text
    assert '<tr class="s-未变">' not in only and '<tr class="s-修改">' in only
    missing = client.get(f"/versions/{quote('示例廉政规定')}?from=2016&to=2024")
    assert missing.status_code == 404 and "没有《示例廉政规定》2016年的版本" in missing.text and "2018、2024" in missing.text


# ---------------------------------------------------------------- the answer's note on a changed article


def test_version_note_on_small_kb(kb):
    chunks = kb.reader().chunks
    new3 = next(c for c in chunks if c.source == "示例廉政规定(2024).md" and c.article == "第三条")
    new4 = next(c for c in chunks if c.source == "示例廉政规定(2024).md" and c.article == "第四条")
    answer = Answer("q", "答[1][2]", citations=(Citation(1, new3, new3.text), Citation(2, new4, new4.text)))
    noted = version_notes(answer, chunks, "gen")
    # 第三条 was 第二条 and changed; 第四条 was only renumbered: no note
    assert noted.notes == ("《示例廉政规定》第三条：2024年修改前为第二条：本规定适用于各级党组织。",)


def test_answer_note_jianchafa_2018_2024(corpus_service):
    chunks = corpus_service.reader().chunks
    by = {(c.version, c.article): c for c in chunks if c.title == "中华人民共和国监察法"}
    old, new = (build_view(chunks, by[(v, "第一条")].doc_id) for v in ("2018", "2024"))
    from assistant.index.versions import align, summary

    assert summary(align(numbered(old), numbered(new))) == {"未变": 54, "修改": 15, "新增": 9, "删除": 0}  # as from the files
    answer = corpus_service.ask("监察法第四十七条是怎么规定的？")
    cited = {(c.chunk.version, c.chunk.article) for c in answer.citations if c.chunk.title == "中华人民共和国监察法"}
    assert ("2024", "第四十七条") in cited, answer.text
    note = next(n for n in answer.notes if n.startswith("《中华人民共和国监察法》第四十七条："))
    assert note.startswith("《中华人民共和国监察法》第四十七条：2024年修改前为第四十三条：")
    assert by[("2018", "第四十三条")].text.split("\n")[0].removeprefix("第四十三条").strip()[:20] in note
    # a renumbered but unchanged article gets no note (2018 第二十一条 → 2024 第二十二条)
    c22 = by[("2024", "第二十二条")]
    plain = version_notes(Answer("q", "答[1]", citations=(Citation(1, c22, c22.text),)), chunks, "gen")
    assert plain.notes == ()


# ---------------------------------------------------------------- kb sync


def test_sync_picks_up_new_changed_and_deleted_files(kb):
    k = kb.settings.knowledge_dir
    before = folder_stamp(kb)
    (k / "新规定.md").write_text("# 新规定\n\n第一条 新规定要求每季度开展一次廉政谈话。\n", "utf-8")
    (k / "示例廉政规定(2018).md").unlink()
    (k / "主体责任规定.md").write_text(REGULATION.replace("第一责任人", "第一责任人，对本单位负总责"), "utf-8")
    assert changed_files(before, folder_stamp(kb)) == (["新规定.md"], ["主体责任规定.md"], ["示例廉政规定(2018).md"])
    report = sync(kb)
    status = {f.path: f.status for f in report.files}
    assert status["新规定.md"] == "added" and status["主体责任规定.md"] == "updated" and status["示例廉政规定(2018).md"] == "removed"
    paths = {d.path for d in kb.documents()}
    assert "示例廉政规定(2018).md" not in paths and "新规定.md" in paths
    assert any("负总责" in h.chunk.text for h in kb.search("第一责任人负总责", mode="bm25"))
    assert not sync(kb).changed  # nothing new: no new generation


def test_watch_syncs_when_the_folder_changes(kb):
    events: queue.Queue[SyncEvent] = queue.Queue()
    stop = threading.Event()
    runner = threading.Thread(target=watch, args=(kb, 0.2, events.put, stop), daemon=True)
    runner.start()
    try:
        first = events.get(timeout=30)
        assert first.report is not None and not first.report.changed  # the first pass: already in step
        (kb.settings.knowledge_dir / "谈话规定.md").write_text("# 谈话规定\n\n第一条 谈话函询应当在十五个工作日内完成。\n", "utf-8")
        while True:
            event = events.get(timeout=30)
            if event.report is not None:
                break
        assert "新增 谈话规定.md" in event.notice
        assert [f.status for f in event.report.files if f.path == "谈话规定.md"] == ["added"]
        (kb.settings.knowledge_dir / REPEAL_FILE).write_text("谈话规定\n", "utf-8")
        notices = []
        while not any("废止清单已更新" in n for n in notices):
            notices.append(events.get(timeout=30).notice)
        assert any("谈话规定" in n for n in notices if "废止清单" in n)
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()
    with pytest.raises(AssistantError, match="检查间隔"):
        watch(kb, 0, events.put)


# ---------------------------------------------------------------- 已废止


def test_repealed_document_is_searchable_but_not_answered_from(kb):
    title = "示例廉政规定"
    before = kb.ask(REPORT_Q)
    assert before.outcome == "answer" and any(c.chunk.title == title for c in before.citations)

    name, changed = set_repealed(kb, title, True)
    assert (name, changed) == (title, True)
    assert repealed_titles(kb.settings.knowledge_dir) == {title}
    assert set_repealed(kb, title, True) == (title, False)
    after = kb.ask(REPORT_Q)
    assert all(c.chunk.title != title for c in (*after.citations, *after.related)), after.text
    assert f"《{title}》已废止，未据以回答（仍可在检索中查看）" in after.notes
    hits = [h for h in kb.search(REPORT_Q) if h.chunk.title == title]
    assert hits and all(h.chunk.repealed and h.chunk.status == "已废止" and h.chunk.label.endswith("〔已废止〕") for h in hits)
    assert document_view(kb, hits[0].chunk.doc_id).status == "已废止"
    # the list file is no document, and an ingest leaves the repealed documents in the index
    report = sync(kb)
    assert REPEAL_FILE not in {f.path for f in report.files} and REPEAL_FILE not in {d.path for d in kb.documents()}

    assert set_repealed(kb, "示例廉政规定(2024).md", False) == (title, True)  # by file name
    assert any(c.chunk.title == title for c in kb.ask(REPORT_Q).citations)


def test_one_question_reads_the_repeal_list_once(kb, monkeypatch):
    """废止.txt sizes the search and marks its hits: one read per question, with or without a list."""
    set_repealed(kb, "示例廉政规定", True)
    reads: list[Path] = []
    read_text = Path.read_text

    def counting(self, *args, **kwargs):
        if self.name == REPEAL_FILE:
            reads.append(self)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    answer = kb.ask(REPORT_Q)
    assert "《示例廉政规定》已废止，未据以回答（仍可在检索中查看）" in answer.notes
    assert len(reads) == 1
    (kb.settings.knowledge_dir / REPEAL_FILE).unlink()
    reads.clear()
    kb.ask(REPORT_Q)
    assert len(reads) == 1  # one attempt when there is no list either


# ---------------------------------------------------------------- in Chromium: ask, click [1], read the 原文


@pytest.mark.integration
def test_clicking_a_citation_opens_the_original_at_the_article(browser, tmp_path):  # noqa: F811 - the imported fixture
    from ui_fixtures import make_service, serve

    service = make_service(tmp_path)
    with serve(service) as url:
        context = browser.new_context(viewport={"width": 1200, "height": 420}, locale="zh-CN")
        page = context.new_page()
        requests: list[str] = []
        context.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        ask(page, "一岗双责要求我做什么？")
        marker = page.locator("#chatbot .answer .cite").first
        assert marker.get_attribute("target") == "_blank"
        with context.expect_page() as opened:
            marker.click()
        doc = opened.value
        doc.wait_for_load_state()
        assert doc.url.startswith(f"{url}/doc/") and doc.url.endswith("#" + quote("第二条"))
        assert doc.title() == "党委（党组）落实全面从严治党主体责任规定"
        target = doc.locator("section.art:target")
        assert target.get_attribute("id") == "第二条"
        assert DUTY_QUOTE in target.locator("mark.hl").inner_text()
        # the page opened at the article: it is on screen, and the page scrolled to get there
        top = doc.evaluate("() => document.querySelector('section.art:target').getBoundingClientRect().top")
        assert 0 <= top < 420 and doc.evaluate("() => window.scrollY") > 0
        assert "现行有效" in doc.locator(".banner").inner_text()
        with doc.expect_download() as download:
            doc.get_by_text("下载原文件").click()
        assert Path(download.value.path()).read_bytes() == (service.settings.knowledge_dir / "主体责任规定.md").read_bytes()
        ARTIFACTS.mkdir(exist_ok=True)
        doc.screenshot(path=str(ARTIFACTS / "ui-doc-page.png"), full_page=True)
        doc.close()

        # a second question: the sources of both answers stay in the panel, grouped per question
        ask(page, "纪委的监督责任是什么？")
        groups = page.locator("#sources details.src-turn")
        assert groups.count() == 2
        assert "第 2 问" in groups.nth(0).locator(":scope > summary").inner_text() and "第 1 问" in groups.nth(1).locator(":scope > summary").inner_text()
        groups.nth(1).locator(":scope > summary").click()
        assert DUTY_QUOTE in groups.nth(1).inner_text()
        assert groups.nth(1).locator("a.src-open").first.get_attribute("href").startswith("/doc/")
        external = [u for u in requests if not u.startswith((url, "data:", "blob:"))]
        assert external == []
        context.close()


# ---------------------------------------------------------------- behind the logins: the office API and the Gradio page


def test_api_doc_pages_only_for_readable_knowledge_bases(tmp_path):
    from assistant.app.compose import build
    from assistant.app.office import Services
    from assistant.core.settings import Settings
    from assistant.faces.api.app import create_app
    from assistant.office import Office, resolve_url

    services = []
    for name, text in (("default", OLD), ("制度", REGULATION)):
        kdir = tmp_path / f"knowledge-{name}"
        kdir.mkdir()
        (kdir / "规定.md").write_text(text, "utf-8")
        s = build(Settings(knowledge_dir=kdir, index_dir=tmp_path / "index", kb=name, embedder="hash", mode="bm25"))
        s.ingest(show_bar=False)
        services.append(s)
    secret, duty = services
    office = Office(resolve_url("", tmp_path / "office"))
    try:
        office.accounts.add("张三", "correct horse battery")
        office.accounts.grant("张三", "制度")
        key = office.accounts.create_key("张三").key
        registry = Services(secret.settings)
        registry.add(secret)
        registry.add(duty)
        api = TestClient(create_app(secret.settings, office, registry))
        did = doc_id(duty, "规定.md")
        assert api.get(f"/doc/{did}?kb=制度").status_code == 401  # no credential
        auth = {"Authorization": f"Bearer {key}"}
        r = api.get(f"/doc/{did}?kb=制度&hl={quote(DUTY_QUOTE)}", headers=auth)
        assert r.status_code == 200 and f'<mark class="hl">{DUTY_QUOTE}</mark>' in r.text
        assert f'href="/doc/{did}/file?kb=%E5%88%B6%E5%BA%A6"' in r.text  # links keep the knowledge base
        assert api.get(f"/doc/{did}/file?kb=制度", headers=auth).content == (duty.settings.knowledge_dir / "规定.md").read_bytes()
        denied = api.get(f"/doc/{doc_id(secret, '规定.md')}?kb=default", headers=auth)
        assert denied.status_code == 404 and "无权查询" in denied.json()["error"]["message"]
        # search results carry the status: a repealed document is 已废止 there
        set_repealed(duty, "党委（党组）落实全面从严治党主体责任规定", True)
        found = api.post("/v1/search", json={"query": "一岗双责", "kb": "制度"}, headers=auth).json()["data"]
        assert found and all(h["status"] == "已废止" and h["repealed"] for h in found)
    finally:
        office.close()


@pytest.mark.integration
def test_gradio_doc_pages_need_the_page_login(tmp_path):
    import httpx
    from ui_fixtures import make_service, serve

    service = make_service(tmp_path, auth_user="审核员", auth_password="correct horse battery")
    did = doc_id(service, "主体责任规定.md")
    with serve(service) as url, httpx.Client(base_url=url, timeout=30) as web:
        assert web.get(f"/doc/{did}").status_code == 401
        assert web.get(f"/doc/{did}/file").status_code == 401
        assert web.post("/login", data={"username": "审核员", "password": "correct horse battery"}).status_code == 200
        r = web.get(f"/doc/{did}")
        assert r.status_code == 200 and 'id="第二条"' in r.text


@pytest.mark.integration
def test_office_doc_pages_only_from_the_users_knowledge_bases(tmp_path):
    import httpx
    from ui_fixtures import make_service

    from assistant.app.compose import build
    from assistant.app.office import Services, open_office
    from assistant.faces.ui.app import build_app, launch
    from assistant.faces.ui.office_ui import OfficeUI

    password = "一句够长的密码-1"
    service = make_service(tmp_path)
    other_dir = tmp_path / "knowledge-廉洁"
    other_dir.mkdir()
    (other_dir / "廉洁规定.md").write_text("# 廉洁自律补充规定\n\n第一条 党员干部不得收受可能影响公正执行公务的礼品礼金。\n", "utf-8")
    other = build(service.settings.model_copy(update={"kb": "廉洁", "knowledge_dir": other_dir}))
    other.ingest(show_bar=False)
    office = open_office(service.settings)
    office.accounts.add("张三", password)
    office.accounts.grant("张三", "廉洁")
    services = Services(service.settings)
    services.add(service)
    services.add(other)
    demo = build_app(service, office=OfficeUI(service.settings, office, services))
    _app, url, _ = launch(demo, service.settings, prevent_thread_lock=True, quiet=True)
    try:
        with httpx.Client(base_url=url, timeout=30) as web:
            gift, duty = doc_id(other, "廉洁规定.md"), doc_id(service, "主体责任规定.md")
            assert web.get(f"/doc/{gift}").status_code == 401
            assert web.post("/login", data={"username": "张三", "password": password}).status_code == 200
            r = web.get(f"/doc/{gift}")  # found in his knowledge base 廉洁 although the link names none
            assert r.status_code == 200 and "廉洁自律补充规定" in r.text
            assert web.get(f"/doc/{duty}").status_code == 404  # the default knowledge base is not his
            forbidden = web.get(f"/doc/{duty}?kb=default")
            assert forbidden.status_code == 403 and "无权查询" in forbidden.text
    finally:
        demo.close()
        office.close()


# ---------------------------------------------------------------- the command line


def test_cli_kb_sync_repeal_and_watch(tmp_path, capsys, monkeypatch):
    import assistant.app.sync as sync_module
    from assistant.faces.cli.main import main

    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    (kdir / "示例廉政规定(2024).md").write_text(NEW, "utf-8")

    def run(*args: str) -> int:
        return main(["--knowledge-dir", str(kdir), "--index-dir", str(tmp_path / "index"), "--embedder", "hash", *args])

    assert run("kb", "sync") == 0
    assert "新增  示例廉政规定(2024).md" in capsys.readouterr().out
    assert run("kb", "repeal", "示例廉政规定") == 0
    assert "已将《示例廉政规定》标为已废止" in capsys.readouterr().out
    assert (kdir / REPEAL_FILE).read_text("utf-8").splitlines()[-1] == "示例廉政规定"
    assert run("kb", "repeal", "示例廉政规定(2024).md") == 0 and "已是已废止，无需改动" in capsys.readouterr().out
    assert run("search", "向上级报告落实情况", "--json") == 0
    assert "〔已废止〕" in capsys.readouterr().out
    assert run("kb", "list") == 0 and "《示例廉政规定》〔已废止〕" in capsys.readouterr().out
    assert run("kb", "list", "--json") == 0
    import json

    assert [d["repealed"] for d in json.loads(capsys.readouterr().out)["documents"]] == [True]
    assert run("kb", "unrepeal", "示例廉政规定") == 0 and "已恢复《示例廉政规定》为有效文件" in capsys.readouterr().out
    assert repealed_titles(kdir) == frozenset()
    assert run("kb", "repeal", "没有这个文件") == 2 and "没有“没有这个文件”" in capsys.readouterr().err

    # --watch: its first pass picks up a file added while it was off (test_watch_syncs_when_the_folder_changes covers
    # changes between polls); Ctrl-C ends it with exit code 0
    real_watch = sync_module.watch

    def two_polls(service, interval, on_event, stop=None, passes=None):
        (kdir / "新规定.md").write_text("# 新规定\n\n第一条 每季度开展一次廉政谈话。\n", "utf-8")
        real_watch(service, 0.05, on_event, stop, passes=2)
        raise KeyboardInterrupt

    monkeypatch.setattr("assistant.faces.cli.kb.watch", two_polls)
    assert run("kb", "sync", "--watch", "--interval", "1") == 0
    out = capsys.readouterr()
    assert "正在监视" in out.err and "已停止监视" in out.err
    assert "新增  新规定.md" in out.out


def test_saved_citation_links_still_open_after_the_file_changed(kb, client):
    from assistant.app.office import citation_record
    from assistant.faces.ui import render

    chunk = next(c for c in kb.reader().chunks if c.source == "主体责任规定.md" and c.article == "第二条")
    saved = citation_record(Citation(1, chunk, DUTY_QUOTE), "default")  # as history keeps it: chunk id and file
    href = render.doc_href(saved)
    assert href.startswith(f"/doc/{chunk.id}?hl=") and f"&src={quote('主体责任规定.md', safe='')}" in href
    r = client.get(href)
    assert r.status_code == 200 and f'<mark class="hl">{DUTY_QUOTE}</mark>' in r.text
    path = kb.settings.knowledge_dir / "主体责任规定.md"
    path.write_text(path.read_text("utf-8").replace("一岗双责", "“一岗双责”要求"), "utf-8")
    kb.ingest(show_bar=False)
    assert chunk.id not in {c.id for c in kb.reader().chunks}  # the saved chunk is gone
    r = client.get(href)
    assert r.status_code == 200 and '<section class="art" id="第二条">' in r.text and "“一岗双责”要求" in r.text


def test_drafts_do_not_quote_repealed_documents(kb):
    from assistant.drafting.plan import SectionPlan
    from assistant.drafting.retrieve import Weights, requirements

    title = "党委（党组）落实全面从严治党主体责任规定"
    sec = SectionPlan(2, "（一）", "班子成员落实一岗双责，抓好分管领域的全面从严治党工作", "一、强化责任落实", (), True)
    assert any(c.title == title for c in requirements(kb, sec, 3, Weights(kb)))
    set_repealed(kb, title, True)
    assert all(c.title != title for c in requirements(kb, sec, 3, Weights(kb)))


def test_doc_page_links_each_article_to_the_other_version(kb, client):
    old_id, new_id = doc_id(kb, "示例廉政规定(2018).md"), doc_id(kb, "示例廉政规定(2024).md")
    new = client.get(f"/doc/{new_id}").text
    a = quote("第二条", safe="")
    assert f'<div class="vlink"><a href="/doc/{old_id}#{a}">2024年修改，修改前为2018年版第二条</a></div>' in new
    assert '<div class="vlink">2024年新增条文</div>' in new
    assert f'<a href="/doc/{old_id}#{quote("第三条", safe="")}">内容未变，2018年版为第三条</a>' in new
    section1 = new[new.index('id="第一条"') : new.index('id="第二条"')]
    assert "vlink" not in section1  # unchanged and same number: nothing to say
    old = client.get(f"/doc/{old_id}").text
    assert f'<a href="/doc/{new_id}#{quote("第三条", safe="")}">2024年版已修改，现为第三条</a>' in old
    assert f'<a href="/doc/{new_id}#{quote("第四条", safe="")}">内容未变，2024年版为第四条</a>' in old
