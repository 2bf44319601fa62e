"""Export a draft as a Word document laid out after GB/T 9704 (党政机关公文格式), or as Markdown.

Word has no per-run font fallback, so the preferred fonts (方正小标宋简体, 仿宋_GB2312, 楷体_GB2312) go into the
runs and the document's font table names the fallback for each (w:altName); ``fonts="common"`` writes the
fallbacks directly for machines without the GB fonts.
"""

from __future__ import annotations

import re
from pathlib import Path

from docx import Document as new_document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_COLOR_INDEX, WD_LINE_SPACING
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.text.paragraph import Paragraph as DocxParagraph

from assistant.core.messages import error
from assistant.core.types import MARKER, UNSUPPORTED_MARK
from assistant.drafting.check import PLACEHOLDER
from assistant.drafting.model import Draft

# GB/T 9704 sizes: 二号 22pt, 三号 16pt, 四号 14pt.
TITLE_PT, BODY_PT, PAGE_NUMBER_PT = 22, 16, 14
LINE_PT = 28  # fixed line spacing; 22 lines of 28 characters on the A4 type area
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
FONTS = {
    "title": ("方正小标宋简体", "华文中宋", "宋体"),
    "body": ("仿宋_GB2312", "仿宋"),
    "h1": ("黑体",),
    "h2": ("楷体_GB2312", "楷体"),
    "h3": ("仿宋_GB2312", "仿宋"),
    "page": ("宋体",),
}
APPENDIX_TITLE = "引用依据"


def font_name(role: str, fonts: str = "gb") -> str:
    names = FONTS[role]
    return names[0] if fonts == "gb" else names[1] if len(names) > 1 else names[0]


def _set_run_fonts(rpr, name: str) -> None:
    """Set all four rFonts slots (w:eastAsia is the one Chinese text uses) and drop theme fonts that override them."""
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)


def _style_font(style, name: str, size: int, bold: bool = False) -> None:
    style.font.name = name
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = False
    style.font.color.rgb = RGBColor(0, 0, 0)
    _set_run_fonts(style.element.get_or_add_rPr(), name)


def _first_line_indent(pf, chars: int = 2) -> None:
    """Indent by characters (w:firstLineChars) so the indent follows the font size; the twip value is the fallback."""
    pf.first_line_indent = Pt(BODY_PT * chars)
    ind = pf._element.get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:firstLineChars"), str(chars * 100))


def _no_indent(pf) -> None:
    """Styles based on Normal inherit its w:firstLineChars, which wins over a twip indent: zero both."""
    pf.first_line_indent = Pt(0)
    pf._element.get_or_add_pPr().get_or_add_ind().set(qn("w:firstLineChars"), "0")


def _fixed_spacing(pf) -> None:
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = Pt(LINE_PT)
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)


def _font_table_fallbacks(doc, fonts: str) -> None:
    """Declare each preferred font in word/fontTable.xml with its fallback as w:altName."""
    part = next((r.target_part for r in doc.part.rels.values() if r.reltype == RT.FONT_TABLE), None)
    if part is None:
        return
    root = parse_xml(part.blob)
    known = {f.get(qn("w:name")) for f in root.findall(qn("w:font"))}
    for names in FONTS.values():
        primary = names[0] if fonts == "gb" else (names[1] if len(names) > 1 else names[0])
        if primary in known:
            continue
        known.add(primary)
        font = OxmlElement("w:font")
        font.set(qn("w:name"), primary)
        alts = [n for n in names if n != primary]
        if alts:
            alt = OxmlElement("w:altName")
            alt.set(qn("w:val"), alts[0])
            font.append(alt)
        charset = OxmlElement("w:charset")
        charset.set(qn("w:val"), "86")  # GB2312
        font.append(charset)
        root.append(font)
    from lxml import etree

    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _page_number(paragraph: DocxParagraph, fonts: str) -> None:
    """'— N —' with a PAGE field, 4号 宋体."""

    def run(text: str = ""):
        r = paragraph.add_run(text)
        r.font.size = Pt(PAGE_NUMBER_PT)
        r.font.name = font_name("page", fonts)
        _set_run_fonts(r._r.get_or_add_rPr(), font_name("page", fonts))
        return r

    run("— ")
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        r = run()
        if kind:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            r._r.append(fld)
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            r._r.append(instr)
        else:
            r.text = text
    run(" —")


def _footers(doc, fonts: str) -> None:
    """Odd pages: number at the right, one character in; even pages: at the left (GB/T 9704 7.5)."""
    doc.settings.odd_and_even_pages_header_footer = True
    section = doc.sections[0]
    for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
        footer.is_linked_to_previous = False
        p = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
        p.alignment = align
        pf = p.paragraph_format
        _no_indent(pf)
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            pf.right_indent = Pt(PAGE_NUMBER_PT)
        else:
            pf.left_indent = Pt(PAGE_NUMBER_PT)
        _page_number(p, fonts)


def _setup(doc, fonts: str) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin = Mm(MARGINS_MM["top"])
    section.bottom_margin = Mm(MARGINS_MM["bottom"])
    section.left_margin = Mm(MARGINS_MM["left"])
    section.right_margin = Mm(MARGINS_MM["right"])
    # The page number sits 7 mm below the type area: 35 mm margin - 7 mm - one 4号 line.
    section.footer_distance = Mm(22)
    styles = doc.styles
    normal = styles["Normal"]
    _style_font(normal, font_name("body", fonts), BODY_PT)
    _fixed_spacing(normal.paragraph_format)
    _first_line_indent(normal.paragraph_format)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    for name, role, bold in (("Heading 1", "h1", False), ("Heading 2", "h2", False), ("Heading 3", "h3", True)):
        st = styles[name]
        _style_font(st, font_name(role, fonts), BODY_PT, bold)
        _fixed_spacing(st.paragraph_format)
        _first_line_indent(st.paragraph_format)
        st.paragraph_format.keep_with_next = True
    title = styles["Title"]
    _style_font(title, font_name("title", fonts), TITLE_PT)
    tpf = title.paragraph_format
    tpf.alignment = WD_ALIGN_PARAGRAPH.CENTER
    tpf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    tpf.line_spacing = Pt(LINE_PT + 8)  # a 二号 title needs more than the body's 28 pt
    tpf.space_before = Pt(0)
    tpf.space_after = Pt(LINE_PT)  # one empty line under the title
    _no_indent(tpf)
    pPr = title.element.get_or_add_pPr()
    for border in pPr.findall(qn("w:pBdr")):  # the default Title style draws a rule under the text
        pPr.remove(border)
    _font_table_fallbacks(doc, fonts)
    _footers(doc, fonts)


_SPECIAL = re.compile(rf"{MARKER.pattern}|{PLACEHOLDER.pattern}|{re.escape(UNSUPPORTED_MARK)}")


def special_parts(text: str) -> list[str]:
    """``text`` cut into plain stretches and the special tokens ([n], 【待补充…】/**, 〔未找到依据〕), in order.

    Not ``re.split``: MARKER has its own capturing group, which split returns as an extra part (a stray digit
    after every citation)."""
    parts: list[str] = []
    at = 0
    for m in _SPECIAL.finditer(text):
        if m.start() > at:
            parts.append(text[at : m.start()])
        parts.append(m.group(0))
        at = m.end()
    if at < len(text):
        parts.append(text[at:])
    return parts


def _body(paragraph: DocxParagraph, text: str) -> None:
    """Runs of body text; [n] as superscript, 【待补充】/** and 〔未找到依据〕 highlighted for the reviewer."""
    for part in special_parts(text):
        run = paragraph.add_run(part)
        if MARKER.fullmatch(part):
            run.font.superscript = True
        elif PLACEHOLDER.fullmatch(part):
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW
        elif part == UNSUPPORTED_MARK:
            run.font.highlight_color = WD_COLOR_INDEX.PINK


def to_docx(draft: Draft, path: Path | str, fonts: str = "gb") -> Path:
    """Write the draft, then the sources appendix on a new page. ``fonts``: gb | common."""
    if fonts not in ("gb", "common"):
        raise error("unknown_font_set", fonts=fonts)
    _final(draft)
    path = Path(path)
    doc = new_document()
    _setup(doc, fonts)
    doc.core_properties.title = draft.title or draft.topic
    doc.core_properties.subject = draft.topic
    if draft.title:
        doc.add_paragraph(draft.title, style="Title")
    for section in draft.sections:
        doc.add_paragraph(section.heading, style="Heading 1" if section.level == 1 else "Heading 2")
        for p in section.paragraphs:
            _body(doc.add_paragraph(), p.text)
    if draft.citations:
        doc.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
        head = doc.add_paragraph(APPENDIX_TITLE, style="Heading 1")
        _no_indent(head.paragraph_format)
        for c in draft.citations:
            doc.add_paragraph(f"[{c.n}] {c.label}：“{c.quote}”")
        for warning in draft.check.issues if draft.check else ():
            if warning.startswith("注意："):
                doc.add_paragraph(warning)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        doc.save(str(path))
    except OSError as e:
        raise error("cannot_write", path=path, reason=e.strerror) from e
    return path


def to_markdown(draft: Draft) -> str:
    lines: list[str] = []
    if draft.title:
        lines += [f"# {draft.title}", ""]
    for section in draft.sections:
        lines += [f"{'#' * (section.level + 1)} {section.heading}", ""]
        for p in section.paragraphs:
            lines += [p.text, ""]
    if draft.citations:
        lines += [f"## {APPENDIX_TITLE}", ""]
        lines += [f"[{c.n}] {c.label}：“{c.quote}”  " for c in draft.citations]
        lines.append("")
    if draft.check and draft.check.issues:
        lines += ["## 核查提示", ""] + [f"- {i}" for i in draft.check.issues] + [""]
    if draft.warnings:
        lines += ["## 起草说明", ""] + [f"- {w}" for w in draft.warnings] + [""]
    return "\n".join(lines)


def _final(draft: Draft) -> None:
    """Only the final text is exported: a snapshot still holds template paragraphs the model may replace."""
    if draft.provisional:
        raise error("draft_not_final")


def to_markdown_file(draft: Draft, path: Path | str) -> Path:
    _final(draft)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_markdown(draft), "utf-8")
    return path
