import re
from pathlib import Path

import pytest

from assistant.core.types import Document
from assistant.ingest.chunking import chunk_document
from assistant.ingest.loaders import load_document
from assistant.text.structure import cn_to_int, int_to_cn, split_enumeration


def doc(text: str, kind: str = "regulation", title: str = "测试条例") -> Document:
    return Document(doc_id="d1", title=title, text=text, kind=kind, source="t.md", version="2020")


@pytest.mark.parametrize("n", [1, 9, 10, 11, 20, 99, 100, 101, 110, 158, 287, 1000])
def test_chinese_numerals_round_trip(n):
    assert cn_to_int(int_to_cn(n)) == n


def test_one_article_per_chunk_with_chapter_path_and_offsets():
    text = "# 测试条例\n\n## 第一编 总则\n\n### 第一章 原则\n\n第一条 第一条的内容。\n\n第二条 第二条的内容。\n\n第二款内容。\n\n### 第二章 责任\n\n第三条 第三条的内容。"
    chunks = chunk_document(doc(text))
    assert [c.article for c in chunks] == ["第一条", "第二条", "第三条"]
    assert chunks[0].path == ("第一编 总则", "第一章 原则")
    assert chunks[2].path == ("第一编 总则", "第二章 责任")
    assert chunks[1].text == "第二条 第二条的内容。\n\n第二款内容。"
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.context.startswith("《测试条例》") and c.article in c.context


def test_article_sharing_its_line_without_space():
    chunks = chunk_document(doc("第一条为了规范工作，制定本规定。\n第二条本规定适用于各级党组织。"))
    assert [c.article for c in chunks] == ["第一条", "第二条"]
    assert chunks[1].text == "第二条本规定适用于各级党组织。"


def test_reference_to_earlier_article_is_not_a_new_article():
    text = "第一条 内容一。\n第二条 内容二。\n第一条规定的情形，从重处理。"
    chunks = chunk_document(doc(text))
    assert [c.article for c in chunks] == ["第一条", "第二条"]
    assert "第一条规定的情形" in chunks[1].text


def test_long_article_split_at_items_keeps_article_number():
    items = "\n".join(f"（{int_to_cn(i)}）" + "履行监督责任，加强日常管理，" * 6 + "。" for i in range(1, 9))
    text = f"第五条 党委应当履行下列职责：\n{items}\n第六条 短条。"
    chunks = chunk_document(doc(text), max_chars=300)
    fifth = [c for c in chunks if c.article == "第五条"]
    assert len(fifth) > 1
    assert all(c.text.startswith(("第五条", "（")) for c in fifth)
    assert all(len(c.text) <= 300 for c in fifth)
    assert "".join(c.text for c in fifth).replace("\n", "") == text[: text.index("\n第六条")].replace("\n", "")


def test_report_headings_and_enumerated_items():
    text = (
        "# 2024年工作报告\n\n一、强化责任落实\n\n（一）压实主体责任\n\n"
        "全年召开专题会议【待补充】次。一是制定责任清单；二是开展约谈提醒；三是强化考核问责。\n\n"
        "二、加强作风建设\n\n坚决纠治四风问题。"
    )
    chunks = chunk_document(doc(text, kind="report", title="2024年工作报告"))
    labels = [c.article for c in chunks]
    assert "一、（一）一是" in labels and "一、（一）三是" in labels
    assert any(c.article == "二、" and "四风" in c.text for c in chunks)
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_split_enumeration_requires_a_sequence():
    assert split_enumeration("这是一个问题。") == ["这是一个问题。"]
    assert split_enumeration("一是学习；二是落实。") == ["一是学习；", "二是落实。"]


def test_gbk_file_is_decoded(tmp_path: Path):
    p = tmp_path / "规定.txt"
    p.write_bytes("第一条 落实一岗双责。\n第二条 严格执行八项规定。\n第三条 本规定自发布之日起施行。".encode("gbk"))
    d = load_document(p, tmp_path)
    assert d.kind == "regulation" and "一岗双责" in d.text
    assert [c.article for c in chunk_document(d)] == ["第一条", "第二条", "第三条"]


def _manifest_counts(corpus: Path) -> dict[str, int]:
    counts = {}
    for line in (corpus / "MANIFEST.md").read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 4 and cells[1].endswith(".md"):
            m = re.match(r"(\d+)", cells[4])
            counts[cells[1]] = int(m.group(1)) if m else 0
    return counts


def test_article_counts_match_manifest(corpus_dir):
    counts = _manifest_counts(corpus_dir)
    assert len(counts) == 15
    for rel, expected in counts.items():
        d = load_document(corpus_dir / rel, corpus_dir)
        articles = {c.article for c in chunk_document(d) if re.fullmatch(r"第[一二三四五六七八九十百零]+条", c.article)}
        assert len(articles) == expected, rel
        if expected:
            assert f"第{int_to_cn(expected)}条" in articles


def test_every_chunk_is_a_verbatim_slice(corpus_dir):
    for p in sorted(corpus_dir.rglob("*.md")):
        if p.name == "MANIFEST.md":
            continue
        d = load_document(p, corpus_dir)
        for c in chunk_document(d):
            assert d.text[c.start : c.end] == c.text
            assert len(c.text) <= 600


def test_short_numbered_sentence_is_content_not_a_lost_heading():
    text = "# 报告\n\n三、存在的问题\n\n（一）责任传导还不够到位。个别党支部存在上热下冷现象。\n\n（二）监督合力有待加强。"
    chunks = chunk_document(doc(text, kind="report", title="报告"))
    joined = "".join(c.text for c in chunks)
    assert "上热下冷" in joined and "监督合力有待加强" in joined
    assert {c.article for c in chunks} == {"三、（一）", "三、（二）"}
