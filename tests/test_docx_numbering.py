"""Word auto-numbering recovered from numbering.xml, and .txt titles from the first line."""

from __future__ import annotations

from pathlib import Path

import docx
from docx.oxml import parse_xml

from assistant.ingest.chunking import chunk_document
from assistant.ingest.loaders import load_document
from assistant.ingest.numbering import chinese_counting
from assistant.ingest.office import load_docx

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

NUMBERING = f"""
<w:abstractNum xmlns:w="{W_NS}" w:abstractNumId="90">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>
</w:abstractNum>|
<w:abstractNum xmlns:w="{W_NS}" w:abstractNumId="91">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="第%1条"/></w:lvl>
</w:abstractNum>|
<w:num xmlns:w="{W_NS}" w:numId="90"><w:abstractNumId w:val="90"/></w:num>|
<w:num xmlns:w="{W_NS}" w:numId="91"><w:abstractNumId w:val="91"/></w:num>
"""


def _numbered(paragraph, num_id: int, ilvl: int = 0) -> None:
    paragraph._p.get_or_add_pPr().append(
        parse_xml(f'<w:numPr xmlns:w="{W_NS}"><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>')
    )


def _make(path: Path) -> Path:
    d = docx.Document()
    numbering = d.part.numbering_part.element
    abstract, nums = [], []
    for xml in NUMBERING.split("|"):
        (abstract if "abstractNum " in xml.split(">")[0] else nums).append(parse_xml(xml.strip()))
    for el in abstract:  # abstractNum elements must precede num elements
        numbering.insert(0, el)
    for el in nums:
        numbering.append(el)
    d.add_paragraph("示例廉政工作规定", style="Title")
    _numbered(d.add_paragraph("总体要求"), 90)
    _numbered(d.add_paragraph("坚持问题导向。"), 90, 1)
    _numbered(d.add_paragraph("坚持系统观念。"), 90, 1)
    _numbered(d.add_paragraph("主要任务"), 90)
    _numbered(d.add_paragraph("落实主体责任。"), 90, 1)
    for i in range(12):
        _numbered(d.add_paragraph(f"党组织应当履行第{i + 1}项职责。"), 91)
    d.save(path)
    return path


def test_chinese_counting() -> None:
    assert [chinese_counting(n) for n in (1, 10, 12, 20, 35, 100, 101, 110)] == [
        "一", "十", "十二", "二十", "三十五", "一百", "一百零一", "一百一十"]


def test_docx_numbering_recovered(tmp_path: Path) -> None:
    text, extras = load_docx(_make(tmp_path / "规定.docx"))
    lines = text.split("\n")
    assert extras["title"] == "示例廉政工作规定"
    assert "一、总体要求" in lines
    assert "（一）坚持问题导向。" in lines
    assert "（二）坚持系统观念。" in lines
    assert "二、主要任务" in lines
    # the sub-level restarts under a new 一级 item
    assert "（一）落实主体责任。" in lines
    assert any(line.startswith("第一条") and line.endswith("党组织应当履行第1项职责。") for line in lines)
    assert any(line.startswith("第十二条") and line.endswith("第12项职责。") for line in lines)


def test_docx_numbering_chunks_as_articles(tmp_path: Path) -> None:
    doc = load_document(_make(tmp_path / "规定.docx"), tmp_path)
    assert doc.kind == "regulation"
    articles = [c.article for c in chunk_document(doc) if c.article]
    numbered = [a for a in articles if a.startswith("第")]
    assert numbered[:2] == ["第一条", "第二条"] and numbered[-1] == "第十二条"


def test_gbk_txt_title_from_first_line(tmp_path: Path) -> None:
    path = tmp_path / "scan_0012.txt"
    path.write_bytes("关于加强廉洁文化建设的意见\n\n一、总体要求\n坚持以习近平新时代中国特色社会主义思想为指导。\n".encode("gbk"))
    doc = load_document(path, tmp_path)
    assert doc.title == "关于加强廉洁文化建设的意见"
