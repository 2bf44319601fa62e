"""`assistant kb list|add|remove|rebuild|stats`: several named knowledge bases, dedup, per-document status, failures."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from filemakers import make_docx, make_xlsx

from assistant.core.settings import Settings
from assistant.faces.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
RULE = "# 作风建设规定\n\n第一条 严格执行中央八项规定精神。\n\n第二条 班子成员履行一岗双责。\n\n第三条 本规定自印发之日起施行。\n"


@pytest.fixture()
def env(tmp_path, monkeypatch):
    """A knowledge folder, an index folder, and a runner for `assistant --index-dir … kb …` with the hash embedder."""
    monkeypatch.setenv("ASSISTANT_CONFIG", "")  # empty: no config file
    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    def run(*args: str, kb: str = "default") -> int:
        return main(["--knowledge-dir", str(kdir), "--index-dir", str(tmp_path / "index"), "--embedder", "hash", "--kb", kb, *args])

    return kdir, inbox, run


def files(inbox: Path) -> dict[str, Path]:
    rule = inbox / "作风规定.md"
    rule.write_text(RULE, "utf-8")
    report = make_docx(inbox / "工作报告.docx", [("title", "年度工作报告"), ("h1", "一、主要做法"), ("h2", "（一）压实责任"), ("p", "党委专题研究党风廉政建设【待补充】次。")])
    lst = make_xlsx(inbox / "责任清单.xlsx", {"Sheet1": [["责任主体", "责任内容"], ["党委", "履行主体责任"], ["纪委", "履行监督责任"]]})
    return {"rule": rule, "report": report, "list": lst}


def json_out(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_add_list_stats_and_a_second_knowledge_base(env, capsys):
    kdir, inbox, run = env
    f = files(inbox)
    assert run("kb", "add", str(f["rule"]), str(f["report"]), str(f["list"])) == 0
    out = capsys.readouterr().out
    assert "新增  uploads/作风规定.md  法规制度  3 段  《作风建设规定》" in out
    assert "新增  uploads/责任清单.xlsx  责任清单  2 段" in out

    assert run("kb", "list", "--json") == 0
    docs = {d["path"]: d for d in json_out(capsys)["documents"]}
    assert {p: (d["status"], d["kind"]) for p, d in docs.items()} == {
        "uploads/作风规定.md": ("indexed", "regulation"),
        "uploads/工作报告.docx": ("indexed", "report"),
        "uploads/责任清单.xlsx": ("indexed", "list"),
    }

    assert run("kb", "stats", "--json") == 0
    st = json_out(capsys)
    assert st["documents"] == 3 and st["kinds"] == {"regulation": 1, "report": 1, "list": 1} and st["chunks"] == 6

    # A second knowledge base is separate: its own documents, its own uploads.
    assert run("kb", "add", str(f["rule"]), "--kind", "other", kb="纪检") == 0
    capsys.readouterr()
    assert run("kb", "list", kb="纪检") == 0
    text = capsys.readouterr().out
    assert text.startswith("知识库：纪检（其他：default）")
    assert re.search(r"已入库\s+其他\s+uploads/作风规定\.md  1 段", text)  # declared other: one outline chunk
    assert "工作报告" not in text
    assert run("kb", "stats", "--json", kb="纪检") == 0
    assert json_out(capsys)["knowledge_bases"] == ["default", "纪检"]


def test_duplicates_and_bad_files_are_reported_and_the_rest_added(env, capsys):
    kdir, inbox, run = env
    f = files(inbox)
    assert run("kb", "add", str(f["rule"])) == 0
    copy = inbox / "作风规定-副本.md"
    shutil.copy(f["rule"], copy)
    broken = inbox / "损坏.xlsx"
    broken.write_bytes(f["list"].read_bytes()[:700])
    empty = inbox / "空.txt"
    empty.write_bytes(b"")
    (inbox / "x.exe").write_bytes(b"MZ\x90\x00")
    capsys.readouterr()
    code = run("kb", "add", str(copy), str(broken), str(empty), str(inbox / "没有这个文件.md"), str(inbox / "x.exe"), str(f["report"]))
    assert code == 1  # something failed; the rest went in
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert "重复  作风规定-副本.md: 与知识库中的 uploads/作风规定.md 内容相同 — 不必重复导入" in lines
    assert any(line.startswith("失败  损坏.xlsx: 已损坏") for line in lines)
    assert "失败  空.txt: 是空文件（0 字节） — 删除它或补上内容" in lines
    assert any(line.startswith("失败  ") and "没有这个文件.md: 文件不存在" in line for line in lines)
    assert any(line.startswith("跳过  x.exe: 文件类型 .exe 不受支持 — 转换为以下类型之一：") for line in lines)
    assert lines[-1] == "5 个文件未入库，原因见上；其余文件已处理。"
    assert "新增  uploads/工作报告.docx  工作报告" in out
    # Only what the index holds stays in the uploads folder.
    uploads = sorted(p.name for p in (Path(Settings(index_dir=env[0].parent / "index").kb_dir) / "uploads").iterdir())
    assert uploads == ["作风规定.md", "工作报告.docx"]


def test_status_of_each_document_and_the_failure_report(env, capsys):
    kdir, inbox, run = env
    (kdir / "作风规定.md").write_text(RULE, "utf-8")
    (kdir / "旧稿.md").write_text(RULE.replace("作风建设规定", "旧稿规定").replace("一岗双责", "两个责任"), "utf-8")
    assert main(["--knowledge-dir", str(kdir), "--index-dir", str(kdir.parent / "index"), "--embedder", "hash", "ingest"]) == 0
    (kdir / "作风规定.md").write_text(RULE.replace("第三条", "第三条 各支部参照执行。\n\n第四条"), "utf-8")  # changed
    (kdir / "旧稿.md").unlink()  # missing
    (kdir / "新规定.md").write_text(RULE.replace("作风建设规定", "新规定").replace("八项规定", "廉洁纪律"), "utf-8")  # pending
    (kdir / "图片.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00")  # not ingested yet, but bad
    (kdir / "说明.pptx").write_bytes(b"PK\x03\x04")  # unsupported
    capsys.readouterr()
    assert run("kb", "list", "--json") == 0
    status = {d["path"]: d["status"] for d in json_out(capsys)["documents"]}
    assert status == {"作风规定.md": "changed", "旧稿.md": "missing", "新规定.md": "pending", "图片.md": "pending", "说明.pptx": "skipped"}

    assert main(["--knowledge-dir", str(kdir), "--index-dir", str(kdir.parent / "index"), "--embedder", "hash", "ingest"]) == 0
    capsys.readouterr()
    assert run("kb", "list") == 0
    text = capsys.readouterr().out
    assert re.search(r"已入库\s+法规制度\s+作风规定\.md  4 段", text)
    assert "旧稿" not in text
    failures = text.split("未入库：", 1)[1]
    assert "失败     图片.md：图片.md: 看起来是二进制文件，不是文本 — 另存为 UTF-8 文本，或改回它真实的扩展名" in failures
    assert "跳过     说明.pptx：说明.pptx: 文件类型 .pptx 不受支持 — 转换为以下类型之一：" in failures
    assert run("kb", "stats") == 0
    assert "未入库 2 个" in capsys.readouterr().out


def test_remove_by_name_or_title_and_rebuild(env, capsys):
    kdir, inbox, run = env
    (kdir / "作风规定.md").write_text(RULE, "utf-8")
    f = files(inbox)
    assert run("kb", "add", str(f["report"]), str(f["list"])) == 0
    assert run("kb", "remove", "年度工作报告") == 0  # by title: an upload is deleted
    assert run("kb", "remove", "作风规定.md") == 0  # a file in the knowledge folder is only excluded
    assert (kdir / "作风规定.md").is_file()
    capsys.readouterr()
    assert run("kb", "list", "--json") == 0
    status = {d["path"]: d["status"] for d in json_out(capsys)["documents"]}
    assert status == {"uploads/责任清单.xlsx": "indexed", "作风规定.md": "excluded"}
    assert run("kb", "remove", "不存在") == 2
    assert "错误：知识库“default”中没有“不存在” — 用 `assistant kb list` 查看文档名称" in capsys.readouterr().err
    assert run("kb", "rebuild", "--json") == 0
    rebuilt = json_out(capsys)
    assert rebuilt["chunks"] == rebuilt["embedded"] == 2


def test_the_shipped_samples_answer_with_every_citation_form(tmp_path):
    """The main command over knowledge/ cites a rule article, a list row with its subject, and a report section."""
    from assistant.app.compose import build

    svc = build(Settings(knowledge_dir=ROOT / "knowledge", index_dir=tmp_path / "index", embedder="hash"))
    report = svc.ingest(show_bar=False)
    assert sorted(f.kind for f in report.files) == ["list", "regulation", "report"]
    cases = {
        "机关纪委多久向机关党委报告一次监督工作情况": r"《机关党风廉政建设工作制度（示例）》第八条",
        "班子成员报告履行一岗双责情况的完成时限": r"《某单位全面从严治党主体责任清单（示例）》第\d+行 班子成员（一岗双责）",
        "全面从严治党存在的问题和不足 压力传导层层递减": r"《关于2024年度落实全面从严治党主体责任情况的报告（示例）》二、(一是)?",
        "下一步持之以恒正风肃纪": r"《关于2024年度落实全面从严治党主体责任情况的报告（示例）》三、（二）",
    }
    for question, form in cases.items():
        labels = [h.chunk.label for h in svc.search(question, k=3)]
        assert any(re.fullmatch(form, label) for label in labels), (question, labels)


def test_documents_are_frozen_records_of_the_manifest(hash_service):
    import dataclasses

    from assistant.core.types import IndexedDocument

    (hash_service.settings.knowledge_dir / "作风规定.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    (doc,) = hash_service.documents()
    assert isinstance(doc, IndexedDocument) and doc.path == "作风规定.md" and doc.title == "作风建设规定"
    assert doc.kind == "regulation" and doc.chunks == 3 and len(doc.sha256) == 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.title = "x"  # type: ignore[misc]
    assert json.loads(json.dumps(doc.to_dict(), ensure_ascii=False))["title"] == "作风建设规定"
    old = IndexedDocument.from_manifest("scan.pdf", {"sha256": "ab", "chunks": 2, "ocr_pages": [[1, 0.9]]})  # an older entry
    assert old == IndexedDocument("scan.pdf", sha256="ab", chunks=2, ocr_pages=((1, 0.9),))
