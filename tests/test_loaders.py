"""Loaders for Word, Excel, CSV, PDF and HTML on real files generated here, and the citation form of each kind."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from filemakers import cjk_font, make_docx, make_pdf, make_xls, make_xlsx, regulation_blocks

from assistant.core.errors import IngestError
from assistant.ingest.chunking import chunk_document
from assistant.ingest.loaders import load_document
from assistant.text import normalize

ROOT = Path(__file__).resolve().parent.parent
RULE = "regulations/党委（党组）落实全面从严治党主体责任规定(2020).md"


def chunks_of(path: Path, kind: str = ""):
    doc = load_document(path, path.parent, kind=kind)
    chunks = chunk_document(doc)
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text  # every chunk is a verbatim slice: quotes stay checkable
    return doc, chunks


def squash(text: str) -> str:
    return re.sub(r"\s+", "", normalize(text))


# ---------------------------------------------------------------- Word


def test_docx_report_headings_tables_and_citation_form(tmp_path):
    path = make_docx(
        tmp_path / "情况报告.docx",
        [
            ("title", "关于2024年度落实主体责任情况的报告"),
            ("p", "现将有关情况报告如下。"),
            ("h1", "一、主要做法"),
            ("h2", "（一）压实政治责任"),
            ("p", "党委年初专题研究部署。一是制定责任清单；二是签订责任书【待补充】份；三是开展约谈提醒。"),
            ("table", [("序号", "工作项目", "完成情况"), ("1", "专题研究党风廉政建设", "【待补充】次"), ("2", "监督检查", "【待补充】次")]),
            ("h1", "二、存在问题"),
            ("h2", "（一）压力传导不到位"),
            ("p", "个别支部存在以会议落实会议的情况。"),
        ],
    )
    doc, chunks = chunks_of(path)
    assert doc.kind == "report" and doc.title == "关于2024年度落实主体责任情况的报告"
    assert "## 一、主要做法" in doc.text.splitlines() and "### （一）压实政治责任" in doc.text.splitlines()
    # The table keeps each row with its header, one row per line.
    assert "序号：1；工作项目：专题研究党风廉政建设；完成情况：【待补充】次" in doc.text.splitlines()
    labels = {c.label: c for c in chunks}
    assert "《关于2024年度落实主体责任情况的报告》一、（一）二是" in labels
    assert "签订责任书" in labels["《关于2024年度落实主体责任情况的报告》一、（一）二是"].text
    problem = labels["《关于2024年度落实主体责任情况的报告》二、（一）"]
    assert "以会议落实会议" in problem.text and problem.path == ("二、存在问题", "（一）压力传导不到位")


def test_docx_without_heading_styles_still_has_an_outline(tmp_path):
    """Official reports often type 一、 and （一） into plain paragraphs, with the section text on the same line."""
    path = make_docx(
        tmp_path / "工作总结.docx",
        [
            ("p", "一、强化责任落实"),
            ("p", "（一）压实主体责任。党委书记履行第一责任人职责，班子成员落实一岗双责，全年开展谈心谈话【待补充】人次，发现问题及时提醒。"),
            ("p", "（二）加强监督检查。纪委围绕重点领域开展监督检查，督促整改问题【待补充】个，形成监督报告。"),
        ],
    )
    doc, chunks = chunks_of(path, kind="report")
    by_label = {c.article: c.text for c in chunks}
    assert by_label["一、（一）"].startswith("（一）压实主体责任。")
    assert by_label["一、（二）"].startswith("（二）加强监督检查。")


def test_docx_responsibility_table_is_a_list_with_row_citations(tmp_path):
    path = make_docx(
        tmp_path / "责任清单.docx",
        [
            ("title", "某支部党风廉政建设责任清单"),
            ("table", [("责任主体", "责任内容", "完成时限"), ("支部书记", "履行第一责任人职责，带头讲廉政党课", "每年"), ("支部委员", "落实一岗双责", "每半年")]),
        ],
    )
    doc, chunks = chunks_of(path)
    assert doc.kind == "list"
    rows = [c for c in chunks if c.meta("责任主体")]
    assert [c.label for c in rows] == ["《某支部党风廉政建设责任清单》第2行 支部书记", "《某支部党风廉政建设责任清单》第3行 支部委员"]
    assert rows[1].meta("完成时限") == "每半年" and rows[1].meta("sheet") == "表1"


@pytest.mark.corpus
def test_docx_of_a_corpus_regulation_gives_the_same_articles_as_its_markdown(corpus_dir, tmp_path):
    md_path = corpus_dir / RULE
    md_doc, md_chunks = chunks_of(md_path)
    path = make_docx(tmp_path / "主体责任规定.docx", regulation_blocks(md_path.read_text("utf-8")))
    doc, chunks = chunks_of(path, kind="regulation")
    assert doc.title == md_doc.title == "党委（党组）落实全面从严治党主体责任规定"
    expect = [(c.article, c.path, squash(c.text)) for c in md_chunks]
    got = [(c.article, c.path, squash(c.text)) for c in chunks]
    assert got == expect
    assert len({a for a, _, _ in got if re.fullmatch(r"第.+条", a)}) == 25


# ---------------------------------------------------------------- Excel and CSV


def test_xlsx_responsibility_list_rows_sheets_merges(tmp_path):
    path = make_xlsx(
        tmp_path / "主体责任清单.xlsx",
        {
            "党委": [
                ["某单位全面从严治党主体责任清单"],
                ["序号", "责任主体", "责任内容", "具体措施", "完成时限"],
                ["一、集体责任"],
                [1, "党委", "研究部署全面从严治党工作", "年初召开党委会专题研究", dt.datetime(2024, 1, 31)],
                [2, None, "支持纪委履行监督责任", "听取纪委工作汇报", "每年6月、12月"],
                [3, "党委书记", "履行第一责任人职责", "带头讲廉政党课", "每年至少1次"],
            ],
            "纪委": [["序号", "责任主体", "责任内容"], [1, "纪委", "强化日常监督"]],
            "草稿": [["序号", "责任主体"], [1, "不应入库"]],
        },
        merges={"党委": ["A1:E1", "A3:E3", "B4:B5"]},
        hidden=["草稿"],
    )
    doc, chunks = chunks_of(path)
    assert doc.kind == "list" and doc.title == "某单位全面从严治党主体责任清单"
    assert doc.version == ""  # a deadline date is not a document version
    assert "不应入库" not in doc.text and any("草稿" in w for w in doc.warnings)
    rows = [c for c in chunks if c.meta("责任内容")]
    assert [c.article for c in rows] == ["党委 第4行 党委", "党委 第5行 党委", "党委 第6行 党委书记", "纪委 第2行 纪委"]
    second = rows[1]
    assert second.meta("责任主体") == "党委"  # the merged subject cell fills every row it spans
    assert second.text == "序号：2；责任主体：党委；责任内容：支持纪委履行监督责任；具体措施：听取纪委工作汇报；完成时限：每年6月、12月"
    assert rows[0].meta("完成时限") == "2024年1月31日"
    assert rows[0].path == ("党委", "一、集体责任") and rows[0].meta("sheet") == "党委"
    assert rows[3].path == ("纪委",)
    assert rows[2].label == "《某单位全面从严治党主体责任清单》党委 第6行 党委书记"


def test_single_sheet_list_cites_row_and_subject(tmp_path):
    path = make_xlsx(
        tmp_path / "支部责任清单.xlsx",
        {
            "Sheet1": [
                ["责任主体", "责任内容", "措施", "时限"],
                ["支部书记", "第一责任人", "每季度研究1次", "季度末"],
                ["支部委员", "一岗双责", "分工负责", "全年"],
                [None, None, "每半年开展1次廉政谈话"],  # a row with one value, not at the left: still a row
            ]
        },
    )
    _, chunks = chunks_of(path)
    assert [c.label for c in chunks] == ["《支部责任清单》第2行 支部书记", "《支部责任清单》第3行 支部委员", "《支部责任清单》第4行"]
    assert chunks[2].text == "措施：每半年开展1次廉政谈话"
    assert chunks[0].path == ()  # the default sheet name says nothing


def test_xls_with_merged_subject_and_date(tmp_path):
    path = make_xls(
        tmp_path / "旧版清单.xls",
        "某单位责任清单",
        ["序号", "责任主体", "责任内容", "完成时限"],
        [[1, "党委", "研究部署", dt.date(2024, 3, 31)], [2, "", "听取汇报", "每半年"]],
        merge_subject=(2, 3),
    )
    doc, chunks = chunks_of(path)
    assert doc.kind == "list" and doc.title == "某单位责任清单"
    assert [c.article for c in chunks] == ["第3行 党委", "第4行 党委"]
    assert chunks[0].meta("完成时限") == "2024年3月31日"


def test_csv_in_gbk_with_tabs(tmp_path):
    path = tmp_path / "责任分工.csv"
    path.write_bytes("责任主体\t责任内容\t时限\n党委\t统筹部署\t每年\n纪委\t监督检查\t每季度\n".encode("gbk"))
    doc, chunks = chunks_of(path)
    assert doc.kind == "list"
    assert [c.label for c in chunks] == ["《责任分工》第2行 党委", "《责任分工》第3行 纪委"]
    assert chunks[1].text == "责任主体：纪委；责任内容：监督检查；时限：每季度"


# ---------------------------------------------------------------- PDF


def test_pdf_text_layer_joins_lines_and_drops_page_numbers(tmp_path):
    """ASCII only, so it runs without a CJK font."""
    long = "Party committees shall take primary responsibility for strict governance, " * 4
    path = make_pdf(
        tmp_path / "policy.pdf", [["Strict Governance Rules", long.strip()], ["Second page text about supervision and discipline."]], title="Strict Governance Rules"
    )
    doc = load_document(path, tmp_path)
    lines = doc.text.splitlines()
    assert lines[0] == "# Strict Governance Rules" and doc.title == "Strict Governance Rules"
    assert long.strip() in doc.text  # the wrapped paragraph is one line again
    assert not any(re.fullmatch(r"- \d+ -", line) for line in lines)


@pytest.mark.corpus
def test_chinese_pdf_of_a_corpus_regulation_gives_the_same_articles(corpus_dir, tmp_path):
    font = cjk_font()
    if font is None:
        pytest.skip("no CJK font for fpdf2 (apt-get install fonts-noto-cjk)")
    md_path = corpus_dir / RULE
    md_doc, md_chunks = chunks_of(md_path)
    paragraphs = [line.lstrip("#").strip() for line in md_path.read_text("utf-8").splitlines() if line.strip()]
    pages = [paragraphs[i : i + 20] for i in range(0, len(paragraphs), 20)]
    path = make_pdf(tmp_path / "主体责任规定.pdf", pages, font=font, title=md_doc.title)
    doc, chunks = chunks_of(path, kind="regulation")
    assert doc.title == md_doc.title
    md_articles = {c.article: squash(c.text) for c in md_chunks if c.article.startswith("第")}
    pdf_articles = {c.article: squash(c.text) for c in chunks if c.article.startswith("第")}
    assert len(md_articles) == 25 and pdf_articles == md_articles


# ---------------------------------------------------------------- HTML, legacy Word, declared kinds


def test_html_keeps_the_article_and_strips_navigation(tmp_path):
    html = """<!DOCTYPE html><html><head><meta charset="gbk"><title>关于加强作风建设的通知_某某门户网站</title>
    <script>var s = "脚本不应入库";</script></head><body>
    <div class="top-nav"><a href="/">首页</a><a>机构设置</a></div><nav><ul><li>政务公开</li></ul></nav>
    <div class="breadcrumb">当前位置：首页 &gt; 通知公告</div>
    <div class="content"><h1>关于加强作风建设的通知</h1><p>各党支部：</p>
    <h2>一、提高思想认识</h2><p>各级党组织要切实提高认识。<!-- 注释不应入库 --></p>
    <h2>二、压实工作责任</h2><table><tr><th>责任主体</th><th>责任内容</th></tr><tr><td>党委</td><td>统筹部署</td></tr></table>
    </div><footer>版权所有 备案号</footer><div id="sidebar">相关链接</div></body></html>"""
    path = tmp_path / "通知.html"
    path.write_bytes(html.encode("gbk"))
    doc, chunks = chunks_of(path)
    assert doc.title == "关于加强作风建设的通知"
    for junk in ("首页", "政务公开", "当前位置", "脚本", "注释", "版权", "相关链接"):
        assert junk not in doc.text
    assert "责任主体：党委；责任内容：统筹部署" in doc.text.splitlines()
    assert {c.article for c in chunks} >= {"一、", "二、"}


@pytest.mark.parametrize("ext", [".doc", ".wps"])
def test_legacy_word_without_libreoffice_says_what_to_do(tmp_path, monkeypatch, ext):
    if shutil.which("soffice") or shutil.which("libreoffice"):
        monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    path = tmp_path / f"旧文件{ext}"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024)
    with pytest.raises(IngestError) as e:
        load_document(path, tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"旧文件{ext}: ") and "没有安装 LibreOffice" in msg
    assert "另存为 .docx" in msg and "\n" not in msg


def test_declared_kind_overrides_detection(tmp_path):
    path = tmp_path / "说明.md"
    path.write_text("# 支部换届说明\n\n一、基本情况\n\n（一）组织建设\n\n支部按期换届。\n", "utf-8")
    assert load_document(path, tmp_path).kind == "other"
    doc, chunks = chunks_of(path, kind="report")
    assert doc.kind == "report" and chunks[0].label == "《支部换届说明》一、（一）"


# ---------------------------------------------------------------- shipped samples


def test_knowledge_samples_show_every_kind_and_citation_form():
    kdir = ROOT / "knowledge"
    forms = {
        "regulation": r"《[^》]+》第[一二三四五六七八九十]+条",
        "list": r"《[^》]+》第\d+行 \S+",
        "report": r"《[^》]+》[一二三四五六七八九十]+、（[一二三四五六七八九十]+）",
    }
    seen = {}
    for path in sorted(kdir.glob("示例-*")):
        doc, chunks = chunks_of(path)
        assert "示例" in doc.title and "示例，非真实文件" in doc.text
        seen[doc.kind] = [c.label for c in chunks]
    assert set(seen) == set(forms)
    for kind, form in forms.items():
        assert any(re.fullmatch(form, label) for label in seen[kind]), (kind, seen[kind][:5])
    subjects = " ".join(seen["list"])
    for who in ("党委", "党委书记（第一责任人）", "班子成员（一岗双责）", "纪委"):
        assert who in subjects


def test_knowledge_samples_are_regenerated_byte_for_byte(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "knowledge" / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for make, committed in ((mod.make_list, mod.LIST_PATH), (mod.make_report, mod.REPORT_PATH)):
        fresh = make(tmp_path / committed.name)
        assert fresh.read_bytes() == committed.read_bytes(), f"{committed.name} is stale: run python knowledge/make_samples.py"
