"""The web UI's HTML rendering: escaping of untrusted text, citation markers, the sources panel."""

from __future__ import annotations

import html
import re
import urllib.parse

from assistant.core.types import UNSUPPORTED_MARK, Answer, Chunk, Citation, Hit
from assistant.faces.ui import render

EVIL = '第一条 <script>alert(1)</script> <img src=x onerror="alert(2)"> [点我](javascript:alert(3)) **粗** $$x$$ `c`\n第二行'


def chunk(text: str, **kw) -> Chunk:
    base = {"id": "c1", "doc_id": "d1", "title": "党委（党组）落实全面从严治党主体责任规定", "article": "第二条", "source": "规定.md"}
    return Chunk(text=text, **{**base, **kw})


def tags(html: str) -> set[str]:
    return set(re.findall(r"<([a-zA-Z]+)", html))


def test_escape_leaves_no_markup_or_markdown():
    out = render.escape(EVIL)
    assert tags(out) == {"br"}  # the only tag is the newline we turned into <br>
    assert "\n" not in out
    for ch in "<>\"'`*[]()$":
        assert ch not in out.replace("<br>", ""), ch
    # Entities decode back to exactly the source text.
    import html

    assert html.unescape(out.replace("<br>", "\n")) == EVIL


def test_answer_marker_shows_label_and_quote():
    quote = "既要抓好分管业务工作，又要抓好分管领域的全面从严治党工作。"
    c = Citation(1, chunk(f"第二条 领导班子成员应当履行“一岗双责”，{quote}"), quote)
    a = Answer(question="一岗双责要求我做什么？", text="班子成员要抓业务也要抓党建[1]。", citations=(c,))
    out = render.answer_html(a)
    marker = re.search(r'<a class="cite"[^>]*>\[1\]<span class="cite-pop"[^>]*>(.*?)</span></a>', out)
    assert marker, out
    assert "《党委（党组）落实全面从严治党主体责任规定》第二条" in marker.group(1)
    assert render.escape(quote) in marker.group(1)
    assert "[1]" not in out.split('<a class="cite"')[0]  # the raw marker was replaced, not duplicated
    # clicking it opens the 原文 page of its document at the article, the quote highlighted, in a new tab
    href = html.unescape(re.search(r'<a class="cite" href="([^"]*)" target="_blank"', out).group(1))
    assert href == f"/doc/{c.chunk.doc_id}?hl={urllib.parse.quote(quote, safe='')}#{urllib.parse.quote('第二条', safe='')}"
    assert '<details class="cite-list">' in out and "引用条文（1）" in out


def test_answer_with_hostile_quote_is_inert():
    c = Citation(1, chunk(EVIL), EVIL.split("\n")[0])
    out = render.answer_html(Answer(question="q", text=EVIL.replace("第二行", "第二行[1]"), citations=(c,)))
    assert tags(out) <= {"div", "br", "span", "b", "details", "summary", "ol", "li", "q", "a"}
    assert "<script" not in out and "onerror=" not in out and "](" not in out
    # the one link is the marker's own, to the 原文 page; the hostile text is percent-encoded inside it
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]*)"', out)]
    assert len(hrefs) == 1 and hrefs[0].startswith(f"/doc/{c.chunk.doc_id}?hl=") and "<" not in hrefs[0] and '"' not in hrefs[0]


def test_unknown_marker_stays_text_and_unsupported_is_flagged():
    c = Citation(1, chunk("第二条 一岗双责。"), "第二条 一岗双责。")
    out = render.answer_html(Answer(question="q", text=f"有依据[1]。编造的话{UNSUPPORTED_MARK}又一句[7]。", citations=(c,)))
    assert out.count('class="cite"') == 1
    assert "&#91;7&#93;" in out  # [7] points nowhere: shown as text, not as a marker
    assert '<span class="unsupported"' in out and UNSUPPORTED_MARK in out


def test_sources_panel_lists_quote_label_and_location():
    quote = "既要抓好分管业务工作。"
    ch = chunk(f"第二条 一岗双责，{quote}", path=("第二章 责任内容",))
    other = chunk("第三条 书记是第一责任人。", id="c2", article="第三条")
    a = Answer(question="q", text="x[1]", citations=(Citation(1, ch, quote),), hits=(Hit(ch, 1.0), Hit(other, 0.5)))
    out = render.sources_html(a)
    assert 'id="src-1"' in out
    assert "《党委（党组）落实全面从严治党主体责任规定》第二条" in out
    assert f'<blockquote class="src-quote">{render.escape(quote)}</blockquote>' in out
    assert "第二章 责任内容 / 规定.md" in out
    assert "检索到但未引用（1）" in out and "第三条" in out
    assert "旧版" not in out


def test_sources_panel_warns_about_superseded_text():
    old = chunk("第五条 旧规定的内容。", title="中国共产党纪律处分条例", article="第五条", version="2018", superseded=True, superseded_by="2023年版")
    warning = "注意：《中国共产党纪律处分条例》（2018年版）为旧版文本，已被2023年版取代，请以现行版本为准。"
    a = Answer(question="q", text="x[1]", citations=(Citation(1, old, "第五条 旧规定的内容。"),), warnings=(warning,))
    out = render.sources_html(a)
    assert 'class="src superseded"' in out
    assert "⚠ 《中国共产党纪律处分条例》（2018年版）为旧版文本，已被2023年版取代，请以现行版本为准。" in out
    assert "〔旧版，已被2023年版取代〕" in out  # the label itself says so too
    assert f'<div class="src-warn">⚠ {render.escape(warning)}</div>' in out


def test_sources_panel_empty_and_refused():
    assert "提问后" in render.sources_html(None)
    refused = Answer(question="q", text="知识库中没有找到回答该问题的依据。", refused=True)
    assert "没有引用条文" in render.sources_html(refused)
    assert 'class="answer refused"' in render.answer_html(refused)


def test_streaming_and_user_text_are_escaped():
    assert "<script" not in render.streaming_html("<script>x</script>[1]")
    assert "&#91;1&#93;" in render.streaming_html("部分回答[1]")  # markers are not live until verified
    assert render.user_html("<b>问</b>") == '<div class="question">&#60;b&#62;问&#60;/b&#62;</div>'


def test_answer_payload_is_plain_data():
    quote = "一岗双责。"
    c = Citation(1, chunk("第二条 " + quote), quote)
    p = Answer(question="q", text="答[1]", citations=(c,), query="q2").to_dict()
    assert p["answer"] == "答[1]" and p["query"] == "q2" and not p["refused"]
    assert p["citations"] == [
        {"n": 1, "label": c.label, "quote": quote, "source": "规定.md", "chunk_id": "c1", "superseded": False,
         "provenance": "正式文件", "status": "现行有效"}
    ]


def test_knowledge_base_views():
    from assistant.core.types import IndexedDocument

    rows = render.document_rows(
        [IndexedDocument("b.md", title="乙", kind="list", chunks=3), IndexedDocument("a.md", title="<i>甲</i>", kind="regulation", version="2023", chunks=9)]
    )
    assert rows == [["a.md", "<i>甲</i>", "法规制度", "2023", 9], ["b.md", "乙", "责任清单", "", 3]]
    from assistant.core.types import KbStats

    stats = KbStats("<kb>", "gen-1", 2, 12, {"regulation": 1}, "hash", {"x.pdf": "x.pdf: <bad>"}, 2048, ("<kb>",))
    out = render.stats_html(stats)
    assert "&#60;kb&#62;" in out and "2 个文件" in out and "12 个条块" in out and "2 KB" in out
    assert "上次导入的问题（1）" in out and "&#60;bad&#62;" in out


def test_conversation_sources_keep_every_answer_grouped_per_question():
    first = Citation(1, chunk("第二条 一岗双责。"), "第二条 一岗双责。")
    second = Citation(1, chunk("第三条 书记是第一责任人。", id="c2", article="第三条"), "第三条 书记是第一责任人。")
    turns = [
        {"q": "一岗双责？", "sources": render.sources_html(Answer(question="一岗双责？", text="答[1]", citations=(first,)))},
        {"q": "出错的问题", "html": "错误"},  # a failed question has no sources and no group
        {"q": "谁是第一责任人？", "sources": render.sources_html(Answer(question="q", text="答[1]", citations=(second,)))},
    ]
    out = render.conversation_sources_html(turns)
    groups = re.findall(r'<details class="src-turn" id="turn-(\d+)"( open)?><summary>(.*?)</summary>', out)
    assert groups == [("3", " open", "第 3 问：谁是第一责任人？"), ("1", "", "第 1 问：一岗双责？")]  # latest first and open
    assert out.index("第三条 书记是第一责任人") < out.index("第二条 一岗双责")
    assert out.count('class="src-open"') == 2
    assert render.conversation_sources_html([{"q": "x", "html": "错误"}]) == render.sources_html(None)
