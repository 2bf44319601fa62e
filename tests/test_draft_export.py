"""Word and Markdown export of a draft, read back with python-docx: GB/T 9704 page, fonts, sizes, spacing,
headings, citation markers, page numbers and the sources appendix."""

from __future__ import annotations

import docx
import pytest
from docx.enum.text import WD_LINE_SPACING
from docx.oxml.ns import qn

from assistant.core.types import Chunk, Citation
from assistant.drafting.export import APPENDIX_TITLE, to_docx, to_markdown
from assistant.drafting.model import CheckResult, Draft, Heading, Outline, Paragraph, Section

RULE = Chunk(
    id="r8",
    doc_id="d1",
    title="党委（党组）落实全面从严治党主体责任规定",
    text="党委（党组）书记应当履行本地区本单位全面从严治党第一责任人职责。",
    kind="regulation",
    article="第八条",
    version="2020",
)
FACT = Chunk(id="f1", doc_id="d2", title="事实材料", text="党委会专题研究全面从严治党工作12次。", kind="facts", article="第1项")


def _draft(title: str = "2024年度落实全面从严治党主体责任情况报告") -> Draft:
    c1, c2 = Citation(1, RULE, RULE.text), Citation(2, FACT, FACT.text)
    p1 = Paragraph("深入贯彻《党委（党组）落实全面从严治党主体责任规定》第八条关于“书记履行第一责任人职责”的要求[1]。一是党委会专题研究全面从严治党工作12次[2]。", (c1, c2))
    p2 = Paragraph("结合本单位实际，【待补充：主要做法】，开展谈话**人次。", (), placeholders=2)
    outline = Outline(title, (Heading(1, "强化责任落实"), Heading(2, "压实党委主体责任"), Heading(2, "落实“一岗双责”")))
    sections = (Section(1, "一、", "强化责任落实"), Section(2, "（一）", "压实党委主体责任", (p1,)), Section(2, "（二）", "落实“一岗双责”", (p2,)))
    check = CheckResult(claims=2, cited=2, placeholders=2, issues=("共有 2 处【待补充】或 ** 需要根据本单位实际填写",))
    return Draft(title, outline, sections, (c1, c2), check=check)


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    path = to_docx(_draft(), tmp_path_factory.mktemp("docx") / "draft.docx")
    return docx.Document(str(path))


def _east_asia(element) -> str:
    return element.rPr.rFonts.get(qn("w:eastAsia"))


def test_page_is_a4_with_gbt9704_margins(doc):
    s = doc.sections[0]
    assert round(s.page_width.mm) == 210 and round(s.page_height.mm) == 297
    assert [round(x.mm) for x in (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)] == [37, 35, 28, 26]


def test_body_is_fangsong_sanhao_fixed_28pt_indented_two_chars(doc):
    normal = doc.styles["Normal"]
    assert _east_asia(normal.element) == "仿宋_GB2312"
    assert normal.font.size.pt == 16
    pf = normal.paragraph_format
    assert pf.line_spacing_rule == WD_LINE_SPACING.EXACTLY and pf.line_spacing.pt == 28
    assert pf.first_line_indent.pt == 32
    assert pf._element.pPr.ind.get(qn("w:firstLineChars")) == "200"


def test_title_and_heading_fonts(doc):
    title = doc.paragraphs[0]
    assert title.text == "2024年度落实全面从严治党主体责任情况报告" and title.style.name == "Title"
    assert _east_asia(doc.styles["Title"].element) == "方正小标宋简体" and doc.styles["Title"].font.size.pt == 22
    assert doc.styles["Title"].paragraph_format._element.pPr.ind.get(qn("w:firstLineChars")) == "0"  # centred, not indented
    h1, h2, h3 = (doc.styles[f"Heading {n}"] for n in (1, 2, 3))
    assert _east_asia(h1.element) == "黑体" and h1.font.size.pt == 16 and not h1.font.bold
    assert _east_asia(h2.element) == "楷体_GB2312" and h2.font.size.pt == 16
    assert _east_asia(h3.element) == "仿宋_GB2312" and h3.font.bold
    # Theme fonts would override w:eastAsia; none are left on the heading styles.
    assert h1.element.rPr.rFonts.get(qn("w:eastAsiaTheme")) is None
    headings = [(p.style.name, p.text) for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [("Heading 1", "一、强化责任落实"), ("Heading 2", "（一）压实党委主体责任"), ("Heading 2", "（二）落实“一岗双责”"), ("Heading 1", APPENDIX_TITLE)]


def test_citations_placeholders_and_appendix(doc):
    texts = [p.text for p in doc.paragraphs]
    body = next(p for p in doc.paragraphs if p.text.startswith("深入贯彻"))
    markers = [r for r in body.runs if r.text in ("[1]", "[2]")]
    assert [r.text for r in markers] == ["[1]", "[2]"] and all(r.font.superscript for r in markers)
    todo = next(p for p in doc.paragraphs if "【待补充" in p.text)
    assert {r.text for r in todo.runs if r.font.highlight_color is not None} == {"【待补充：主要做法】", "**"}
    start = texts.index(APPENDIX_TITLE)
    assert texts[start + 1] == "[1] 《党委（党组）落实全面从严治党主体责任规定》(2020)第八条：“党委（党组）书记应当履行本地区本单位全面从严治党第一责任人职责。”"
    assert texts[start + 2].startswith("[2] 《事实材料》第1项：")
    # The appendix starts on a new page.
    assert any(br.get(qn("w:type")) == "page" for br in doc.paragraphs[start - 1]._p.iter(qn("w:br")))


def test_page_numbers_in_odd_and_even_footers(doc):
    s = doc.sections[0]
    assert doc.settings.odd_and_even_pages_header_footer
    for footer in (s.footer, s.even_page_footer):
        p = footer.paragraphs[0]
        assert p.text.startswith("— ") and p.text.endswith(" —")
        assert "PAGE" in "".join(t.text for t in p._p.iter(qn("w:instrText")))
        assert {r.font.size.pt for r in p.runs} == {14}
        assert {_east_asia(r._r) for r in p.runs} == {"宋体"}


def test_font_table_names_the_fallbacks(tmp_path):
    path = to_docx(_draft(), tmp_path / "a.docx")
    d = docx.Document(str(path))
    part = next(r.target_part for r in d.part.rels.values() if r.reltype.endswith("/fontTable"))
    xml = part.blob.decode("utf-8")
    assert 'w:name="仿宋_GB2312"' in xml and 'w:val="仿宋"' in xml and 'w:val="华文中宋"' in xml
    common = docx.Document(str(to_docx(_draft(), tmp_path / "b.docx", fonts="common")))
    assert _east_asia(common.styles["Normal"].element) == "仿宋"
    assert _east_asia(common.styles["Title"].element) == "华文中宋"


def test_single_section_draft_has_no_title_paragraph(tmp_path):
    d = docx.Document(str(to_docx(_draft(title=""), tmp_path / "s.docx")))
    assert d.paragraphs[0].text == "一、强化责任落实" and d.paragraphs[0].style.name == "Heading 1"


def test_markdown_export():
    md = to_markdown(_draft())
    lines = md.splitlines()
    assert lines[0] == "# 2024年度落实全面从严治党主体责任情况报告"
    assert "## 一、强化责任落实" in lines and "### （一）压实党委主体责任" in lines
    assert f"## {APPENDIX_TITLE}" in lines
    assert any(line.startswith("[2] 《事实材料》第1项：“党委会专题研究全面从严治党工作12次。”") for line in lines)
    assert "## 核查提示" in lines
