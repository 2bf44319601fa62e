"""Serving under load: the question length limit in every face, concurrent questions, background index updates (serve
answers from the previous index while it updates; cancel leaves it), and uploads labelled 用户上传 that never outrank
official text, promoted by an admin into the knowledge folder."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import pytest
from test_injection import EVIL, PAYLOAD, QUESTION, RULE, assert_not_hijacked
from ui_fixtures import REGULATION, free_port

from assistant.app.compose import build
from assistant.app.service import AssistantService
from assistant.core.errors import AssistantError
from assistant.core.settings import Settings
from assistant.index.embeddings import HashEmbedder
from assistant.index.store import current_generation

NEW_RULE = "# 廉洁从业补充规定\n\n第一条 领导干部不得在企业兼职取酬，确需兼职的应当按规定审批。\n"
NEW_QUESTION = "领导干部可以在企业兼职取酬吗？"


class GatedEmbedder(HashEmbedder):
    """The hash embedder whose document embedding waits at a gate once armed: an ingest "in progress" for as long
    as the test wants, without any sleep. Query embedding is never held up."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entered = threading.Event()
        self.gate = threading.Event()

    def embed_documents(self, texts):
        if self.armed:
            self.entered.set()
            assert self.gate.wait(60), "the test never opened the gate"
        return super().embed_documents(texts)


def gated_service(tmp_path: Path, **settings) -> tuple[AssistantService, GatedEmbedder]:
    """An ingested knowledge base (the 主体责任 regulation) whose next ingest can be held mid-way."""
    from assistant.app.compose import build_answerer, build_gate

    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    (kdir / "主体责任规定.md").write_text(REGULATION, "utf-8")
    s = Settings(knowledge_dir=kdir, index_dir=tmp_path / "index", embedder="hash", mode="hybrid", host="127.0.0.1", port=free_port(), **settings)
    embedder = GatedEmbedder()
    svc = AssistantService(s, lambda: embedder, build_answerer(s), gate_factory=lambda mode: build_gate(s, mode))
    svc.ingest(show_bar=False)
    return svc, embedder


def cited_sources(answer) -> set[str]:
    return {c.chunk.source for c in answer.citations}


# ---------------------------------------------------------------- the question length limit


def test_question_length_limit_in_the_service(hash_service):
    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    limit = hash_service.settings.max_question_chars
    long_question = "党委书记履行什么职责？" * (limit // 10 + 1)
    for call in (hash_service.ask, hash_service.search, lambda q: list(hash_service.stream_ask(q))):
        with pytest.raises(AssistantError, match=f"超过 {limit} 字的上限") as e:
            call(long_question)
        assert f"缩短到 {limit} 字以内" in e.value.fix
    assert hash_service.ask("党委书记履行什么职责？").citations  # a normal question is still answered


def test_question_length_limit_is_a_setting(tmp_path):
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "rule.md").write_text(RULE, "utf-8")
    svc = build(Settings(knowledge_dir=tmp_path / "k", index_dir=tmp_path / "i", embedder="hash", max_question_chars=12))
    svc.ingest(show_bar=False)
    assert svc.ask("党委书记履行什么职责？").citations  # 11 characters
    with pytest.raises(AssistantError, match="问题有 13 个字，超过 12 字的上限"):
        svc.ask("党委书记履行的是什么职责？")


def test_question_length_limit_in_the_ui_handlers(hash_service):
    from assistant.faces.ui.app import _chat_fn, ask_api

    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    respond, _ = _chat_fn(hash_service)
    long_question = "职" * (hash_service.settings.max_question_chars + 1)
    messages, turns, _sources = list(respond(long_question, [], "hybrid"))[-1]
    assert "超过 1000 字的上限" in messages[-1]["content"] and turns[0]["a"] == ""
    with pytest.raises(gr.Error, match="超过 1000 字的上限"):
        ask_api(hash_service, long_question)


def test_question_length_limit_in_the_api(hash_service):
    from fastapi.testclient import TestClient

    from assistant.app.office import Services
    from assistant.faces.api.app import create_app
    from assistant.office import Office, resolve_url

    settings = hash_service.settings
    (settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    office = Office(resolve_url("", settings.index_dir))
    office.accounts.add("admin", "correct horse battery", role="admin")
    key = office.accounts.create_key("admin").key
    services = Services(settings)
    services.add(hash_service)
    try:
        with TestClient(create_app(settings, office, services)) as api:
            auth = {"Authorization": f"Bearer {key}"}
            long_question = "职" * 1001
            r = api.post("/v1/chat/completions", headers=auth, json={"messages": [{"role": "user", "content": long_question}]})
            assert r.status_code == 400 and "超过 1000 字的上限" in r.json()["error"]["message"]
            r = api.post("/v1/search", headers=auth, json={"query": long_question})
            assert r.status_code == 400 and "超过 1000 字的上限" in r.json()["error"]["message"]
            r = api.post("/v1/chat/completions", headers=auth, json={"messages": [{"role": "user", "content": QUESTION}]})
            assert r.status_code == 200 and r.json()["citations"][0]["provenance"] == "正式文件"
            assert r.json()["citations"][0]["status"] == "现行有效"
    finally:
        office.close()


# ---------------------------------------------------------------- concurrent questions


def test_concurrent_questions_are_all_answered_while_a_new_generation_comes_in(tmp_path):
    svc, _embedder = gated_service(tmp_path)
    questions = ["一岗双责要求我做什么？", "党委书记是什么责任人？", "纪检监察机关履行什么责任？", "主体责任是什么？"] * 6

    def ask(q: str):
        return svc.ask(q)

    (svc.settings.knowledge_dir / "廉洁从业补充规定.md").write_text(NEW_RULE, "utf-8")
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(ask, q) for q in questions]
        svc.ingest(show_bar=False)  # a new generation is committed while the questions run
        answers = [f.result(timeout=120) for f in futures]
    assert len(answers) == len(questions)
    assert all(a.outcome in ("answer", "related", "none") and a.hits for a in answers)
    assert all("主体责任规定.md" in {h.chunk.source for h in a.hits} for a in answers)
    assert "廉洁从业补充规定.md" in cited_sources(svc.ask(NEW_QUESTION))


# ---------------------------------------------------------------- background index updates


def test_serve_answers_from_the_previous_index_while_it_updates(tmp_path, monkeypatch):
    """`assistant serve` listens before its ingest ends: questions asked during the update get the old generation."""
    from gradio_client import Client

    import assistant.faces.cli.serve as serve_cli
    import assistant.faces.ui.app as ui_app
    from assistant.faces.cli.main import main

    svc, embedder = gated_service(tmp_path)
    old_gen = current_generation(svc.kb_dir)
    (svc.settings.knowledge_dir / "廉洁从业补充规定.md").write_text(NEW_RULE, "utf-8")
    embedder.armed = True
    apps: list = []
    original_build = ui_app.build_app

    def capture(*args, **kwargs):
        apps.append(original_build(*args, **kwargs))
        return apps[-1]

    monkeypatch.setattr(serve_cli, "_service", lambda settings: svc)
    monkeypatch.setattr(serve_cli, "extra_tabs", lambda: [])
    monkeypatch.setattr(ui_app, "build_app", capture)
    server = threading.Thread(target=main, args=(["serve", "--port", str(svc.settings.port)],), daemon=True)
    server.start()
    try:
        assert embedder.entered.wait(60), "the background ingest never reached the embedding step"
        assert svc.jobs.running is not None and "正在更新索引" in ui_app.job_status(svc)
        client = Client(f"http://127.0.0.1:{svc.settings.port}/", verbose=False)
        during = client.predict("一岗双责要求我做什么？", None, "", api_name="/ask")
        assert during["citations"] and during["citations"][0]["source"] == "主体责任规定.md"
        assert current_generation(svc.kb_dir) == old_gen  # answered by the previous index, the update still running
        assert svc.reader().gen == old_gen
        embedder.gate.set()
        job = svc.jobs.current
        assert job is not None and job.wait(60) and job.state == "done", job.status()
        after = client.predict(NEW_QUESTION, None, "", api_name="/ask")
        assert "廉洁从业补充规定.md" in {c["source"] for c in after["citations"]}
        assert ui_app.job_status(svc) == ""
    finally:
        embedder.gate.set()
        for demo in apps:
            demo.close()
        server.join(timeout=30)


def test_cancel_of_a_background_upload_leaves_the_previous_index(tmp_path):
    svc, embedder = gated_service(tmp_path)
    old_gen = current_generation(svc.kb_dir)
    upload = tmp_path / "廉洁从业补充规定.md"
    upload.write_text(NEW_RULE, "utf-8")
    embedder.armed = True
    job = svc.jobs.start("导入 廉洁从业补充规定.md", lambda progress: svc.add_files([upload], progress=progress))
    assert embedder.entered.wait(60)
    with pytest.raises(AssistantError, match="正在更新索引"):  # one update at a time
        svc.jobs.ingest()
    assert svc.ask("一岗双责要求我做什么？").citations  # the live index answers meanwhile
    assert svc.jobs.cancel()
    embedder.gate.set()
    assert job.wait(60) and job.state == "cancelled", job.status()
    assert "已取消" in job.status()
    assert current_generation(svc.kb_dir) == old_gen
    assert not (svc.uploads_dir / upload.name).exists()  # the copied upload is taken out again
    assert [d.path for d in svc.documents()] == ["主体责任规定.md"]
    assert "廉洁从业补充规定.md" not in {h.chunk.source for h in svc.ask(NEW_QUESTION).hits}
    # The next import runs to the end.
    embedder.armed = False
    done = svc.jobs.start("导入", lambda progress: svc.add_files([upload], progress=progress))
    assert done.wait(60) and done.state == "done" and done.report is not None and done.report.changed
    assert "uploads/廉洁从业补充规定.md" in {d.path for d in svc.documents()}


# ---------------------------------------------------------------- provenance of uploads


def test_poisoned_upload_is_labelled_and_ranked_below_the_official_text(hash_service, tmp_path):
    settings = hash_service.settings
    (settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    evil = tmp_path / "notice.md"
    evil.write_text(EVIL, "utf-8")
    hash_service.ingest(show_bar=False)
    report = hash_service.add_files([evil])
    assert [f.status for f in report.files if f.path == "uploads/notice.md"] == ["added"]

    ans = hash_service.ask(QUESTION)
    assert_not_hijacked(ans)
    sources = [h.chunk.source for h in ans.hits]
    assert sources.index("rule.md") < sources.index("uploads/notice.md")  # the official article comes first
    assert ans.citations[0].chunk.source == "rule.md" and ans.citations[0].chunk.article == "第九条"
    for c in ans.citations:
        assert ("用户上传" in c.label) == (c.chunk.source == "uploads/notice.md")
    upload_hit = next(h for h in ans.hits if h.chunk.source == "uploads/notice.md")
    assert upload_hit.chunk.provenance == "upload" and upload_hit.chunk.label.endswith("〔用户上传，仅供参考〕")
    cites = ans.to_dict()["citations"]
    assert all(c["provenance"] == ("用户上传" if c["source"].startswith("uploads/") else "正式文件") for c in cites)

    # The API's citation fields say the same (a saved citation of the upload).
    from assistant.app.office import citation_record
    from assistant.core.types import Citation
    from assistant.faces.api.app import citation_json

    record = citation_json(citation_record(Citation(1, upload_hit.chunk, upload_hit.chunk.text[:10]), "default"))
    assert record["provenance"] == "用户上传" and "用户上传，仅供参考" in record["label"] and record["status"] == "现行有效"


def test_an_upload_that_alone_answers_keeps_its_place(hash_service, tmp_path):
    """Demotion is only against official text that covers the question as well: the office's own upload still answers."""
    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    own = tmp_path / "兼职规定.md"
    own.write_text(NEW_RULE, "utf-8")
    hash_service.add_files([own])
    ans = hash_service.ask(NEW_QUESTION)
    assert ans.hits[0].chunk.source == "uploads/兼职规定.md"
    assert ans.citations and "用户上传" in ans.citations[0].label


def test_promote_moves_an_upload_into_the_knowledge_folder(hash_service, tmp_path, capsys):
    from assistant.faces.cli.main import main

    settings = hash_service.settings
    (settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    own = tmp_path / "兼职规定.md"
    own.write_text(NEW_RULE, "utf-8")
    hash_service.add_files([own], kind="regulation")
    assert "uploads/兼职规定.md" in {d.path for d in hash_service.documents()}

    with pytest.raises(AssistantError, match="已是正式文件"):
        hash_service.promote("rule.md")
    args = ["--knowledge-dir", str(settings.knowledge_dir), "--index-dir", str(settings.index_dir), "--embedder", "hash"]
    assert main([*args, "kb", "promote", "兼职规定.md"]) == 0
    out = capsys.readouterr().out
    assert "已转为正式文件：兼职规定.md" in out
    assert (settings.knowledge_dir / "兼职规定.md").is_file() and not (hash_service.uploads_dir / "兼职规定.md").exists()
    docs = {d.path: d for d in hash_service.documents()}
    assert "兼职规定.md" in docs and "uploads/兼职规定.md" not in docs and docs["兼职规定.md"].kind == "regulation"
    ans = hash_service.ask(NEW_QUESTION)
    assert ans.citations[0].chunk.source == "兼职规定.md" and "用户上传" not in ans.citations[0].label
    # Promoting again: it is not an upload any more; a name clash in the knowledge folder is refused.
    assert main([*args, "kb", "promote", "兼职规定.md"]) == 2
    assert "已是正式文件" in capsys.readouterr().err
    own.write_text(NEW_RULE + "\n第二条 兼职审批情况每年报告一次。\n", "utf-8")  # same name, other content
    assert "uploads/兼职规定.md" in {f.path for f in hash_service.add_files([own]).files if f.status == "added"}
    with pytest.raises(AssistantError, match="已有同名文件"):
        hash_service.promote("uploads/兼职规定.md")
    assert PAYLOAD not in ans.text


def test_uploads_go_to_the_apps_own_folder_with_a_size_limit_and_an_age(hash_service):
    import os
    import stat

    from assistant.faces.ui.app import build_app, launch_kwargs, upload_dir

    settings = hash_service.settings.model_copy(update={"max_upload_mb": 7, "upload_max_age_hours": 2})
    hash_service.settings = settings
    demo = build_app(hash_service)
    folder = upload_dir()
    assert os.environ["GRADIO_TEMP_DIR"] == folder and Path(folder).name.startswith("party-assistant-uploads-")
    assert stat.S_IMODE(Path(folder).stat().st_mode) == 0o700  # not the shared /tmp/gradio
    assert folder == demo.GRADIO_CACHE and demo.delete_cache == (3600, 7200)
    assert launch_kwargs(settings)["max_file_size"] == "7mb"
