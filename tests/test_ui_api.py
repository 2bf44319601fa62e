"""The app's launch settings, chat handlers, and its named API endpoint called through gradio_client."""

from __future__ import annotations

import gradio as gr
import pytest
from pydantic import SecretStr
from ui_fixtures import DUTY_QUOTE, make_service, serve

from assistant.core.errors import AssistantError
from assistant.core.settings import Settings
from assistant.faces.ui.app import _chat_fn, launch_kwargs

QUESTION = "一岗双责要求我做什么？"


def test_launch_is_local_only_by_default():
    kw = launch_kwargs(Settings())
    assert kw["server_name"] == "127.0.0.1" and kw["server_port"] == 7860
    assert kw["share"] is False and kw["ssr_mode"] is False and kw["mcp_server"] is False
    assert "auth" not in kw


def test_launch_auth_needs_user_and_password():
    kw = launch_kwargs(Settings(auth_user="admin", auth_password=SecretStr("s3cret")))
    assert kw["auth"] == ("admin", "s3cret")
    with pytest.raises(AssistantError, match="同时设置"):
        launch_kwargs(Settings(auth_user="admin"))
    with pytest.raises(AssistantError, match="同时设置"):
        launch_kwargs(Settings(auth_password=SecretStr("x")))


def _last(gen):
    out = list(gen)
    return out, out[-1]


def test_chat_handler_streams_then_renders_and_regenerates(tmp_path):
    service = make_service(tmp_path)
    respond, regenerate = _chat_fn(service)
    steps, (messages, turns, sources) = _last(respond(QUESTION, [], "hybrid"))
    assert "正在检索" in steps[0][0][-1]["content"]  # the first update shows progress before any answer text
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert 'class="cite"' in messages[-1]["content"] and "第二条" in messages[-1]["content"]
    assert "第二条" in sources and render_escaped(DUTY_QUOTE) in sources
    assert turns[0]["q"] == QUESTION and "[1]" in turns[0]["a"]

    # A follow-up sees the first turn as history; regenerate replaces only the last turn.
    seen = []
    original = service.stream_ask

    def spy(question, history=(), mode=None):
        seen.append(list(history))
        return original(question, history, mode)

    service.stream_ask = spy
    _, (messages, turns, _) = _last(respond("第三条规定了什么？", turns, "bm25"))
    assert seen[-1] == [(QUESTION, turns[0]["a"])]
    assert len(turns) == 2 and len(messages) == 4
    _, (messages, turns2, _) = _last(regenerate(turns, "bm25"))
    assert [t["q"] for t in turns2] == [QUESTION, "第三条规定了什么？"] and len(messages) == 4
    assert seen[-1] == [(QUESTION, turns[0]["a"])]


def test_chat_handler_shows_errors_in_the_chat(tmp_path):
    service = make_service(tmp_path)
    respond, _ = _chat_fn(service)

    def broken(question, history=(), mode=None):
        raise AssistantError("the index is being rebuilt", "try again in a minute")
        yield  # pragma: no cover

    service.stream_ask = broken
    _, (messages, turns, _) = _last(respond("任何问题", [], "hybrid"))
    assert "错误：the index is being rebuilt — try again in a minute" in messages[-1]["content"]
    assert turns[0]["a"] == ""  # a failed turn is not sent as history later
    _, (messages, turns, sources) = _last(respond("   ", turns, "hybrid"))
    assert len(turns) == 1 and isinstance(sources, type(gr.skip()))


def render_escaped(text: str) -> str:
    from assistant.faces.ui.render import escape

    return escape(text)


@pytest.mark.integration
def test_ask_endpoint_through_gradio_client_with_login(tmp_path):
    import httpx
    from gradio_client import Client

    service = make_service(tmp_path, auth_user="tester", auth_password=SecretStr("pw-123"))
    with serve(service) as url:
        assert httpx.get(f"{url}/config", timeout=10).status_code in (401, 403)  # nothing without logging in
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own or httpx errors
            Client(url, verbose=False)
        client = Client(url, auth=("tester", "pw-123"), verbose=False)
        api = client.view_api(return_format="dict", print_info=False)
        assert list(api["named_endpoints"]) == ["/ask"]  # UI events are private

        result = client.predict(QUESTION, None, "", api_name="/ask")
        assert not result["refused"]
        assert "一岗双责" in result["answer"] and "[1]" in result["answer"]
        labels = {c["label"] for c in result["citations"]}
        assert "《党委（党组）落实全面从严治党主体责任规定》第二条" in labels
        regulation = (service.settings.knowledge_dir / "主体责任规定.md").read_text("utf-8")
        for c in result["citations"]:
            assert c["quote"] in regulation and c["source"] == "主体责任规定.md"
        assert any(DUTY_QUOTE in c["quote"] for c in result["citations"])

        follow = client.predict("纪检监察机关呢？", [[QUESTION, result["answer"]]], "bm25", api_name="/ask")
        assert follow["question"] == "纪检监察机关呢？"
        assert all(c["quote"] in regulation for c in follow["citations"])

        with pytest.raises(Exception, match="问题为空"):
            client.predict("  ", None, "", api_name="/ask")


def _serve_cli(tmp_path, *args: str) -> list[str]:
    import os
    import sys

    env = {**os.environ, "ASSISTANT_EMBEDDER": "hash", "ASSISTANT_ANSWERER": "extractive", "ASSISTANT_INDEX_DIR": str(tmp_path / "index")}
    # Not `-m assistant.faces.cli.main`: that runs a second copy of the module, which the verb modules never register into.
    main = "import sys; from assistant.faces.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", main, "--knowledge-dir", str(tmp_path / "knowledge"), "serve", *args], env


@pytest.mark.integration
def test_serve_command_serves_then_ingests_in_the_background(tmp_path):
    import subprocess
    import threading
    import time

    import httpx
    from ui_fixtures import REGULATION, free_port

    from assistant.app.compose import build

    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "主体责任规定.md").write_text(REGULATION, "utf-8")
    port = free_port()
    cmd, env = _serve_cli(tmp_path, "--port", str(port))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # the serve log goes to stderr
    reader.start()
    status, docs = None, None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None and not any("在浏览器中打开" in x for x in lines):
            time.sleep(0.2)
        if any("在浏览器中打开" in x for x in lines):
            status = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code
        while time.monotonic() < deadline and proc.poll() is None and not any("索引已更新" in x for x in lines):
            time.sleep(0.2)  # the ingest runs after the server is up
        settings = Settings(knowledge_dir=tmp_path / "knowledge", index_dir=tmp_path / "index", embedder="hash")
        docs = [d.path for d in build(settings).documents()]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)
    err = "".join(lines)
    assert status == 200, (proc.returncode, err)
    assert docs == ["主体责任规定.md"]  # indexed in the background
    assert "正在更新索引" in err and "文件：新增 1" in err, err
    assert f"在浏览器中打开 http://127.0.0.1:{port}" in err, err

@pytest.mark.integration
def test_serve_on_a_busy_port_is_one_error_line(tmp_path, monkeypatch, capsys):
    import socket

    from assistant.faces.cli.main import main

    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hash")
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        code = main(["--knowledge-dir", str(tmp_path), "serve", "--no-ingest", "--port", str(s.getsockname()[1])])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("错误：无法在 127.0.0.1:"), err
    assert "正在更新索引" not in err  # --no-ingest
