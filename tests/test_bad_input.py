"""Bad input: each bad file gets a one-line error naming it and the cause, the rest of the batch is ingested,
and the live index is never damaged, not even by kill -9 in the middle of an ingest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from filemakers import encrypt_office, encrypt_pdf, make_docx, make_pdf, make_scanned_pdf, make_xlsx

from assistant.index.embeddings import HashEmbedder
from assistant.index.retrieval import IndexReader, make_retriever
from assistant.index.store import current_generation, read_chunks, read_manifest
from assistant.ingest.loaders import MAX_BYTES
from assistant.ingest.pipeline import Source, ingest

ROOT = Path(__file__).resolve().parent.parent
GOOD = "# 作风建设规定\n\n第一条 严格执行中央八项规定精神。\n\n第二条 班子成员履行一岗双责。\n\n第三条 本规定自印发之日起施行。\n"


def search(kb: Path, query: str):
    return make_retriever("bm25", IndexReader(kb), None).search(query, 3)


def write_bad_files(d: Path) -> dict[str, str]:
    """Bad files of every sort; returns file name -> the words its error must contain."""
    (d / "空文件.md").write_bytes(b"")
    (d / "损坏.docx").write_bytes(b"PK\x03\x04 this is not really a zip archive" * 20)
    good_xlsx = make_xlsx(d / "_tmp.xlsx", {"清单": [["责任主体", "责任内容"], ["党委", "主体责任"]]})
    (d / "截断.xlsx").write_bytes(good_xlsx.read_bytes()[:900])
    good_xlsx.unlink()
    plain = make_docx(d / "_tmp.docx", [("p", "机密材料")])
    encrypt_office(plain, d / "加密.docx")
    plain.unlink()
    pdf = make_pdf(d / "_tmp.pdf", [["Confidential text layer for the protected file test."]])
    encrypt_pdf(pdf, d / "加密.pdf")
    pdf.unlink()
    make_scanned_pdf(d / "扫描件.pdf")
    with open(d / "超大.txt", "wb") as f:  # sparse: takes no disk and is never read
        f.truncate(MAX_BYTES + 1)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00" + bytes(range(256)) * 4
    (d / "其实是图片.md").write_bytes(png)
    (d / "繁体Big5.txt").write_bytes(("第一條 為全面從嚴治黨，落實主體責任，制定本規定。各級黨組織應當認真執行。" * 3).encode("big5"))
    damaged = GOOD.replace("作风建设规定", "损坏的规定").encode("utf-8")
    (d / "损坏编码.md").write_bytes(damaged[:40] + b"\xff\xfe" + damaged[40:])
    (d / "重复.md").write_text(GOOD, "utf-8")
    return {
        "空文件.md": "是空文件",
        "损坏.docx": "已损坏或不是真正的 .docx",
        "截断.xlsx": "已损坏",
        "加密.docx": "有密码保护",
        "加密.pdf": "有密码保护",
        "扫描件.pdf": "没有文字层",
        "超大.txt": "超过 50 MiB 的上限",
        "其实是图片.md": "二进制文件，不是文本",
        "繁体Big5.txt": "文本编码无法识别",
        "损坏编码.md": "非法字节",
        "重复.md": "内容相同",
    }


def test_every_bad_file_is_named_with_its_cause_and_the_rest_is_ingested(tmp_path):
    d = tmp_path / "k"
    d.mkdir()
    (d / "作风规定.md").write_text(GOOD, "utf-8")
    make_docx(d / "情况报告.docx", [("title", "年度情况报告"), ("h1", "一、主要做法"), ("p", "党委专题研究党风廉政建设。")])
    expected = write_bad_files(d)
    kb = tmp_path / "kb"
    report = ingest([Source(d)], kb, HashEmbedder(), show_bar=False)
    by_name = {Path(f.path).name: f for f in report.files}
    assert {n: f.status for n, f in by_name.items() if n not in expected} == {"作风规定.md": "added", "情况报告.docx": "added"}
    for name, cause in expected.items():
        f = by_name[name]
        assert f.status == ("duplicate" if name == "重复.md" else "failed"), (name, f)
        assert f.error.startswith(f"{name}: ") and cause in f.error, (name, f.error)
        assert "\n" not in f.error and " — " in f.error  # one line: what is wrong — what to do
    chunks, _ = read_chunks(current_generation(kb))
    assert {c.title for c in chunks} == {"作风建设规定", "年度情况报告"}
    assert search(kb, "一岗双责")[0].chunk.article == "第二条"


def test_bad_files_never_damage_the_existing_index(tmp_path):
    d = tmp_path / "k"
    d.mkdir()
    (d / "作风规定.md").write_text(GOOD, "utf-8")
    kb = tmp_path / "kb"
    ingest([Source(d)], kb, HashEmbedder(), show_bar=False)
    # The good file is overwritten with garbage and bad files arrive: the previous version keeps answering.
    (d / "作风规定.md").write_bytes(b"\x00\x01binary garbage" * 50)
    write_bad_files(d)
    report = ingest([Source(d)], kb, HashEmbedder(), show_bar=False)
    broken = next(f for f in report.files if f.path == "作风规定.md")
    assert broken.status == "failed" and "索引中保留该文件的上一版本" in broken.error
    assert search(kb, "一岗双责")[0].chunk.text == "第二条 班子成员履行一岗双责。"
    # Unchanged bad files are not parsed again and do not make a new generation.
    live = current_generation(kb)
    again = ingest([Source(d)], kb, HashEmbedder(), show_bar=False)
    assert not again.changed and current_generation(kb) == live
    assert {f.path: f.error for f in again.failures} == {f.path: f.error for f in report.failures}
    assert read_manifest(live)["errors"]["扫描件.pdf"].startswith("扫描件.pdf: 没有文字层")


SLOW_INGEST = textwrap.dedent(
    """
    import os, sys, time
    from assistant.index import embeddings

    real = embeddings.HashEmbedder.embed_documents

    def slow(self, texts):  # a slow model, so the kill lands mid-way through embedding
        with open(os.environ["EMBED_CALLS"], "a") as f:  # one line per batch: the test kills after the second
            print("batch", file=f)
        time.sleep(0.2)
        return real(self, texts)

    embeddings.HashEmbedder.embed_documents = slow
    from assistant.faces.cli.main import main

    sys.exit(main(sys.argv[1:]))
    """
)


def _regulation(n: int) -> str:
    arts = "\n\n".join(f"第{i}条 第{n}号办法第{i}条：落实监督责任，强化日常管理，编号{n}-{i}。" for i in range(1, 21))
    return f"# 第{n}号测试办法\n\n{arts}\n"


def test_kill_9_during_ingest_keeps_the_index_and_a_rerun_completes(tmp_path):
    d = tmp_path / "k"
    d.mkdir()
    (d / "作风规定.md").write_text(GOOD, "utf-8")
    index = tmp_path / "index"
    kb = index / "default"
    ingest([Source(d)], kb, HashEmbedder(), show_bar=False)
    live = current_generation(kb)
    args = ["--knowledge-dir", str(d), "--index-dir", str(index), "--embedder", "hash", "ingest"]
    calls = tmp_path / "embed-calls.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ASSISTANT_CONFIG": "", "EMBED_CALLS": str(calls)}
    for n in range(1, 21):  # 20 files x 20 articles = 400 new chunks to embed
        (d / f"办法{n:02d}.md").write_text(_regulation(n), "utf-8")

    proc = subprocess.Popen([sys.executable, "-c", SLOW_INGEST, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Killed once the new generation is on disk and a slow batch has begun after it, so mid-way through embedding
    # however loaded the machine is (a fixed sleep after the generation appeared could land after the last batch).
    deadline = time.monotonic() + 120
    started = None  # batches begun when the new generation appeared
    while time.monotonic() < deadline and proc.poll() is None:
        begun = len(calls.read_text().splitlines()) if calls.exists() else 0
        if started is None and any(p != live for p in kb.glob("gen-*")):
            started = begun
        if started is not None and begun > started:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the ingest ended before it could be killed: {proc.communicate()[1].decode()[-800:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert current_generation(kb) == live  # the half-written generation never went live
    assert any(p != live for p in kb.glob("gen-*"))  # ... though it is still on disk
    assert search(kb, "一岗双责")[0].chunk.text == "第二条 班子成员履行一岗双责。"

    rerun = subprocess.run([sys.executable, "-m", "assistant", *args], env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    new = current_generation(kb)
    chunks = read_chunks(new)[0]
    assert new != live and len(chunks) == 3 + 20 * 20
    assert {c.title for c in chunks} == {"作风建设规定"} | {f"第{n}号测试办法" for n in range(1, 21)}
    assert IndexReader(kb).collection.count() == len(chunks)  # every chunk has its vector
    assert sorted(p.name for p in kb.glob("gen-*")) == sorted([live.name, new.name])  # the orphan was pruned
    assert search(kb, "一岗双责")[0].chunk.text == "第二条 班子成员履行一岗双责。"


@pytest.mark.parametrize("name", ["空白.docx", "空白.xlsx"])
def test_office_file_without_any_text(tmp_path, name):
    if name.endswith(".docx"):
        make_docx(tmp_path / name, [])
        cause = "没有文字内容"
    else:
        make_xlsx(tmp_path / name, {"Sheet1": []})
        cause = "没有数据行"
    report = ingest([Source(tmp_path)], tmp_path / "kb", HashEmbedder(), show_bar=False)
    (f,) = report.files
    assert f.status == "failed" and f.error.startswith(f"{name}: ") and cause in f.error
