"""Scaling out: a real chroma server (`chroma run`) holds the vectors; one process ingests into a shared index folder,
two other processes answer from it at the same time; new generations get new server collections and pruned ones
are dropped from the server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pg_fixtures import pg_server  # noqa: F401 - a session fixture

from assistant.index.store import HNSW, hnsw_parameters

pytestmark = pytest.mark.integration

RULE = (
    "# 某单位主体责任规定（示例）\n\n## 第二章 责任内容\n\n"
    "第八条 班子成员根据工作分工，按照一岗双责要求，领导、检查、督促分管部门全面从严治党工作。\n\n"
    "第九条 党委书记履行第一责任人职责，重要工作亲自部署、重大问题亲自过问、重点环节亲自协调。\n\n"
    "第十条 纪委履行监督责任，协助党委推进全面从严治党。\n"
)
QUESTION = "党委书记履行什么职责？"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_cli() -> str | None:
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.is_file() else shutil.which("chroma")


@pytest.fixture()
def chroma_server(tmp_path):
    cli = chroma_cli()
    if cli is None:
        pytest.skip("the chroma CLI (from the chromadb package) is not installed")
    port = free_port()
    log = open(tmp_path / "chroma.log", "wb")  # noqa: SIM115 - the server writes to it until the fixture ends
    proc = subprocess.Popen([cli, "run", "--path", str(tmp_path / "chroma-data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma run did not start: {(tmp_path / 'chroma.log').read_text(errors='replace')[-500:]}")
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assistant", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    return out


def server_client(url: str):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port = url.removeprefix("http://").split(":")
    return chromadb.HttpClient(host=host, port=int(port), settings=ChromaSettings(anonymized_telemetry=False))


def server_collections(url: str) -> set[str]:
    return {c.name for c in server_client(url).list_collections()}


def test_one_ingest_two_answering_processes_share_a_chroma_server(tmp_path, chroma_server):
    chroma_url, server = chroma_server
    knowledge, index = tmp_path / "knowledge", tmp_path / "shared-index"
    knowledge.mkdir()
    (knowledge / "rule.md").write_text(RULE, "utf-8")
    env = {
        **os.environ,
        "ASSISTANT_CONFIG": "",
        "ASSISTANT_KNOWLEDGE_DIR": str(knowledge),
        "ASSISTANT_INDEX_DIR": str(index),
        "ASSISTANT_EMBEDDER": "hash",
        "ASSISTANT_CHROMA_URL": chroma_url,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    finished(run(env, "ingest"))
    kb = index / "default"
    gen = kb / (kb / "CURRENT").read_text("utf-8").strip()
    manifest = json.loads((gen / "manifest.json").read_text("utf-8"))
    assert manifest["vectors"]["url"] == chroma_url
    assert not (gen / "chroma").exists(), "no embedded chroma: the vectors are on the server"
    first_collection = manifest["vectors"]["collection"]
    assert server_collections(chroma_url) == {first_collection}
    built = hnsw_parameters(server_client(chroma_url).get_collection(first_collection))
    assert {k: built[k] for k in HNSW} == HNSW, "the server collection has the configured HNSW parameters"

    # Two answering processes at once, over the same index folder and the same server.
    asks = [run(env, "ask", QUESTION, "--json"), run(env, "search", QUESTION, "--mode", "vector", "--json")]
    answer, hits = (json.loads(finished(p)) for p in asks)
    assert answer["outcome"] == "answer" and any("第九条" in c["label"] and "第一责任人" in c["quote"] for c in answer["citations"])
    assert hits and len(hits) == 3, "vector search over the server's collection finds every chunk"

    # A changed file: a new generation with its own collection; the previous one stays (a reader may hold it).
    (knowledge / "rule.md").write_text(RULE + "\n第十一条 党委每年听取纪委工作汇报。\n", "utf-8")
    finished(run(env, "ingest"))
    second = json.loads((kb / (kb / "CURRENT").read_text("utf-8").strip() / "manifest.json").read_text("utf-8"))
    second_collection = second["vectors"]["collection"]
    assert second_collection != first_collection
    assert server_collections(chroma_url) == {first_collection, second_collection}
    out = json.loads(finished(run(env, "search", "纪委工作汇报", "--mode", "vector", "--json")))
    assert any("第十一条" in h["label"] for h in out)

    # A third generation prunes the first: its folder and its server collection go.
    (knowledge / "more.md").write_text("# 另一规定（示例）\n\n第一条 机关党委负责日常监督。\n", "utf-8")
    finished(run(env, "ingest"))
    third = json.loads((kb / (kb / "CURRENT").read_text("utf-8").strip() / "manifest.json").read_text("utf-8"))
    assert server_collections(chroma_url) == {second_collection, third["vectors"]["collection"]}
    assert len(list(kb.glob("gen-*"))) == 2
    assert third["chunks"] == 5

    # kb repair's deep check counts the vectors on the server.
    finished(run(env, "kb", "repair"))

    # The server goes away: a question is one line naming the server and the fix, not a traceback or "damaged index".
    server.terminate()
    server.wait(timeout=20)
    proc = run(env, "ask", QUESTION)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode != 0 and "连不上向量库服务" in err and chroma_url in err and "Traceback" not in err, (out, err)


def test_an_unreachable_chroma_server_is_one_line_with_the_fix(tmp_path):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "rule.md").write_text(RULE, "utf-8")
    env = {**os.environ, "ASSISTANT_CONFIG": "", "ASSISTANT_KNOWLEDGE_DIR": str(knowledge), "ASSISTANT_INDEX_DIR": str(tmp_path / "i"),
           "ASSISTANT_EMBEDDER": "hash", "ASSISTANT_CHROMA_URL": f"http://127.0.0.1:{free_port()}"}  # fmt: skip
    proc = run(env, "ingest")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, (out, err)
    assert "连不上向量库服务" in err and "ASSISTANT_CHROMA_URL" in err and "Traceback" not in err


def wait_http(url: str, headers: dict[str, str], proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
                pytest.fail(f"{url} did not come up: {err[-1500:]}")
            time.sleep(0.5)


def post(url: str, key: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def test_two_api_processes_share_the_chroma_server_and_postgresql(tmp_path, chroma_server, pg_server):  # noqa: F811
    """The deployment of README's "Scaling out": one chroma server, one PostgreSQL, one shared index folder, two app
    processes; a conversation begun on one process continues on the other."""
    chroma_url, _ = chroma_server
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "rule.md").write_text(RULE, "utf-8")
    env = {**os.environ, "ASSISTANT_CONFIG": "", "ASSISTANT_KNOWLEDGE_DIR": str(knowledge), "ASSISTANT_INDEX_DIR": str(tmp_path / "shared"),
           "ASSISTANT_EMBEDDER": "hash", "ASSISTANT_CHROMA_URL": chroma_url, "ASSISTANT_DATABASE_URL": pg_server(),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}  # fmt: skip
    finished(run(env, "ingest"))
    add = subprocess.run([sys.executable, "-m", "assistant", "user", "add", "管理员", "--role", "admin", "--password-stdin"],
                         input="a-long-test-password-1\n", env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert add.returncode == 0, add.stderr
    key = finished(run(env, "user", "key", "管理员")).strip().splitlines()[0]
    ports = [free_port(), free_port()]
    apis = [run(env, "api", "--port", str(p)) for p in ports]
    try:
        auth = {"Authorization": f"Bearer {key}"}
        for p, proc in zip(ports, apis):
            wait_http(f"http://127.0.0.1:{p}/v1/models", auth, proc)
        first = post(f"http://127.0.0.1:{ports[0]}/v1/chat/completions", key, {"messages": [{"role": "user", "content": QUESTION}]})
        assert first["outcome"] == "answer" and any("第一责任人" in c["quote"] for c in first["citations"])
        # The second process continues the conversation the first one saved in PostgreSQL, from the same index.
        body = {"messages": [{"role": "user", "content": "纪委履行什么责任？"}], "conversation_id": first["conversation_id"]}
        second = post(f"http://127.0.0.1:{ports[1]}/v1/chat/completions", key, body)
        assert second["conversation_id"] == first["conversation_id"]
        assert second["outcome"] == "answer" and any("监督责任" in c["quote"] for c in second["citations"])
        req = urllib.request.Request(f"http://127.0.0.1:{ports[0]}/v1/conversations/{first['conversation_id']}", headers=auth)
        with urllib.request.urlopen(req, timeout=60) as r:
            saved = json.loads(r.read())
        assert saved["turns"] == 2 and [m["question"] for m in saved["messages"]] == [QUESTION, "纪委履行什么责任？"]
    finally:
        for proc in apis:
            proc.terminate()
        for proc in apis:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
