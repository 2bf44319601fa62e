"""The web UI in headless Chromium: ask, read sources, hover a citation, manage the knowledge base, stay offline.

Needs Debian's `chromium` and `fonts-noto-cjk`; never `playwright install` (no browser downloads here).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ui_fixtures import DUTY_QUOTE, HOSTILE, make_service, serve

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip("Debian package chromium is not installed (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def ask(page, question: str) -> None:
    before = page.locator("#chatbot .answer:not(.streaming)").count()
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#chatbot .answer:not(.streaming)').length > n", arg=before, timeout=20_000
    )


def test_chat_sources_citations_kb_and_no_script(browser, tmp_path):
    service = make_service(tmp_path)
    hostile = tmp_path / "upload" / "廉政谈话补充规定.md"
    hostile.parent.mkdir()
    hostile.write_text(HOSTILE, "utf-8")

    with serve(service) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        requests: list[str] = []
        dialogs: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)

        # --- ask: the answer and its sources render, with 第N条 and the verbatim quote
        ask(page, "一岗双责要求我做什么？")
        answer = page.locator("#chatbot .answer").last
        assert "一岗双责" in answer.inner_text()
        sources = page.locator("#sources")
        src_text = sources.inner_text()
        assert "《党委（党组）落实全面从严治党主体责任规定》第二条" in src_text
        assert DUTY_QUOTE in src_text

        # --- a citation marker reveals the quoted article on hover
        marker = answer.locator(".cite").first
        pop = marker.locator(".cite-pop")
        assert not pop.is_visible()
        marker.hover()
        pop.wait_for(state="visible", timeout=5_000)
        assert "第二条" in pop.inner_text() and DUTY_QUOTE in pop.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui-chat.png"), full_page=True)

        # --- regenerate replaces the last answer; clear empties chat and sources
        page.locator("#regenerate").click()
        page.wait_for_timeout(300)
        page.wait_for_selector("#chatbot .answer:not(.streaming) .cite", timeout=20_000)
        assert page.locator("#chatbot .answer").count() == 1
        page.locator("#clear").click()
        page.wait_for_function("() => document.querySelectorAll('#chatbot .answer').length === 0", timeout=10_000)
        assert "提问后" in sources.inner_text()

        # --- knowledge base tab: upload a document full of markup, see it listed
        page.get_by_role("tab", name="知识库").click()
        assert page.get_by_role("tab").count() == 2  # no phantom tab (a gr.State directly under gr.Tabs makes one)
        page.locator("#kb-upload input[type=file]").set_input_files(str(hostile))
        page.wait_for_timeout(500)
        page.locator("#kb-add").click()
        page.wait_for_selector("#kb-result .kb-result", timeout=20_000)
        assert "新增 1" in page.locator("#kb-result").inner_text()
        assert "uploads/廉政谈话补充规定.md" in page.locator("#kb-docs").inner_text()
        assert "2 个文件" in page.locator("#kb-stats").inner_text()

        # --- its text shows literally and nothing in it runs
        page.get_by_role("tab", name="问答").click()
        ask(page, "廉政谈话应当怎样开展？")
        src_text = sources.inner_text()
        assert '<script>window.__pwned=1</script>' in src_text
        assert '<img src=x onerror="window.__pwned=2">' in src_text
        assert "${window.__pwned=3}" in src_text and "[链接](javascript:window.__pwned=4)" in src_text
        answer = page.locator("#chatbot .answer").last
        answer.locator(".cite").first.hover()
        assert "<script>" in answer.locator(".cite-pop").first.inner_text()
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned") is None
        assert dialogs == []
        assert page.locator("img[src='x'], a[href^='javascript']").count() == 0

        # --- remove the upload again
        page.get_by_role("tab", name="知识库").click()
        target = page.locator("#kb-target input")
        target.click()
        page.get_by_role("option", name="uploads/廉政谈话补充规定.md").click()
        page.locator("#kb-remove").click()
        page.wait_for_function(
            "() => !document.querySelector('#kb-docs').innerText.includes('uploads/')", timeout=20_000
        )
        assert "已移除 uploads/廉政谈话补充规定.md" in page.locator("#kb-result").inner_text()
        assert [d.path for d in service.documents()] == ["主体责任规定.md"]

        # --- offline: every request the page made went to this server
        external = [u for u in requests if not u.startswith((url, "data:", "blob:"))]
        assert requests and external == []
        page.close()


def test_chromium_has_cjk_fonts():
    """Without a CJK font Chinese renders as boxes; CI must install fonts-noto-cjk."""
    if not shutil.which("fc-list"):
        pytest.skip("fontconfig not installed")
    import subprocess

    out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=True).stdout
    assert "Noto Sans CJK" in out or "Noto Serif CJK" in out, "apt-get install fonts-noto-cjk"
