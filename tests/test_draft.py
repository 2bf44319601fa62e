"""Drafting: outline learned from past reports, per-section writing with verified citations, figures only from
facts, the LLM path held to the same checks, the CLI and the 起草 tab. Tiny hash-embedder KB built once."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from assistant.answering.verify import verify
from assistant.core.types import MARKER
from assistant.drafting import Heading, Outline, draft, load_facts, parse_outline, propose_outline
from assistant.drafting.check import allowed_figures, figures, mask_unknown_figures
from assistant.drafting.outline import learn_style, report_chunks

DATA = Path(__file__).parent / "data" / "draft"
FACTS = DATA / "facts.md"
SECTION = "二、强化责任落实，扛牢全面从严治党主体责任"
REPORT = "2024年度落实全面从严治党主体责任情况报告"
PAST_REPORT_FIGURES = {"8", "6", "15", "2"}  # figures in the sample past report that no fact or rule contains


class Scripted:
    """A ChatModel that answers from a function of the messages and records the calls."""

    def __init__(self, reply) -> None:
        self.reply = reply
        self.calls: list[list[tuple[str, str]]] = []

    def complete(self, messages: Sequence[tuple[str, str]]) -> str:
        self.calls.append(list(messages))
        return self.reply(messages)

    def stream(self, messages: Sequence[tuple[str, str]]) -> Iterator[str]:
        yield self.complete(messages)


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    """Knowledge dir with a regulation, a past report (一、/（一）/一是) and a responsibility list; hash index."""
    root = tmp_path_factory.mktemp("draftkb")
    kdir = root / "knowledge"
    for sub in ("regulations", "reports", "lists"):
        shutil.copytree(DATA / sub, kdir / sub)
    from assistant.app.compose import build
    from assistant.core.settings import Settings

    settings = Settings(knowledge_dir=kdir, index_dir=root / "index", embedder="hash", mode="hybrid")
    svc = build(settings)
    svc.ingest(show_bar=False)
    return svc


@pytest.fixture(scope="module")
def section_draft(kb):
    return draft(kb, SECTION, facts=FACTS)


# ---------------------------------------------------------------- outlines


def test_outline_text_round_trips_and_keeps_the_section_number():
    text = "二、强化责任落实，扛牢主体责任\n（一）压实党委主体责任\n    一是书记履行第一责任人职责\n- 二是召开党委会\n（二）落实“一岗双责”"
    o = parse_outline(text)
    assert o.start == 2 and o.title == ""
    assert [(h.level, h.title) for h in o.headings] == [
        (1, "强化责任落实，扛牢主体责任"),
        (2, "压实党委主体责任"),
        (3, "书记履行第一责任人职责"),
        (3, "召开党委会"),
        (2, "落实“一岗双责”"),
    ]
    assert o.text().splitlines() == ["二、强化责任落实，扛牢主体责任", "（一）压实党委主体责任", "    一是书记履行第一责任人职责", "    二是召开党委会", "（二）落实“一岗双责”"]
    assert parse_outline(o.text()) == o
    # Markdown headings and unmarked lines work too; the title comes from '# '.
    md = parse_outline("# 年度报告\n## 加强政治建设\n### 强化理论武装\n严明政治纪律")
    assert md.title == "年度报告" and [h.level for h in md.headings] == [1, 2, 2]


def test_outline_without_headings_is_a_one_line_error():
    from assistant.core.errors import AssistantError

    with pytest.raises(AssistantError, match="提纲中没有标题"):
        parse_outline("\n  \n")


def test_style_is_learned_from_report_chunks(kb):
    style = learn_style(report_chunks(kb))
    assert len(style.reports) == 1
    report = style.reports[0]
    assert report.title.startswith("示例单位党委2023年度")
    l1 = [t for t, _ in report.items]
    assert l1[:3] == ["坚持政治引领，把牢正确政治方向", "强化责任落实，扛牢全面从严治党主体责任", "坚持正风肃纪，持之以恒纠治“四风”"]
    assert dict(report.items)["强化责任落实，扛牢全面从严治党主体责任"] == ("压实党委主体责任", "落实“一岗双责”")
    assert report.points > 0 and style.uses_points  # the paragraphs enumerate with 一是…二是…


def test_section_topic_gets_the_children_of_the_matching_past_section(kb):
    o = propose_outline(kb, SECTION)
    assert o.start == 2 and o.title == ""
    assert o.headings[0] == Heading(1, "强化责任落实，扛牢全面从严治党主体责任")
    assert [h.title for h in o.headings[1:]] == ["压实党委主体责任", "落实“一岗双责”"]
    assert "示例单位党委2023年度" in o.source
    assert o.text().startswith("二、强化责任落实")


def test_report_topic_reuses_the_past_report_skeleton(kb):
    o = propose_outline(kb, REPORT)
    assert o.title == REPORT
    l1 = [h.title for h in o.headings if h.level == 1]
    assert "存在的问题" in l1 and "下一步工作打算" in l1 and len(l1) == 5


def test_unmatched_section_topic_takes_headings_from_regulation_items(kb):
    o = propose_outline(kb, "加强作风纪律建设")
    kids = [h.title for h in o.headings if h.level == 2]
    assert kids and o.source == "参照：相关法规条款"
    texts = "".join(c.text for c in kb.reader().chunks if c.kind == "regulation")
    assert all(k in texts for k in kids)  # verbatim clauses, nothing made up


# ---------------------------------------------------------------- the draft


def test_every_paragraph_cites_and_every_citation_verifies(section_draft):
    d = section_draft
    assert [s.heading for s in d.sections] == ["二、强化责任落实，扛牢全面从严治党主体责任", "（一）压实党委主体责任", "（二）落实“一岗双责”"]
    assert d.sections[0].paragraphs == ()  # a 一级标题 with children carries only its heading
    numbers = {c.n for c in d.citations}
    assert numbers == set(range(1, len(d.citations) + 1))
    context = [c.chunk for c in d.citations]
    for p in d.paragraphs:
        assert p.citations, p.text
        assert {int(n) for n in MARKER.findall(p.text)} <= numbers
        again = verify(p.text, context)  # the chat verifier, on the document-wide numbering
        assert again.dropped == () and again.unsupported == ()
        for c in p.citations:
            assert c.quote in c.chunk.text
    assert d.check.cited_share == 1.0 and d.check.uncited_paragraphs == 0 and d.check.unknown_numbers == ()


def test_requirements_come_from_regulations_and_facts_from_the_user(section_draft):
    d = section_draft
    kinds = {c.chunk.kind for c in d.citations}
    assert "report" not in kinds  # past reports are style examples only
    assert "regulation" in kinds and "facts" in kinds
    text = "".join(p.text for p in d.paragraphs)
    assert "12次" in text and "26人次" in text
    fact = next(c for c in d.citations if "12次" in c.quote)
    assert fact.chunk.kind == "facts" and fact.chunk.source == "facts.md"
    # Every figure in the draft is in a fact or a cited source; none comes from the past report.
    allowed = allowed_figures([*(c.text for c in load_facts([FACTS])), *(c.chunk.text for c in d.citations), SECTION])
    assert set(figures(MARKER.sub("", text))) <= allowed
    assert not set(figures(MARKER.sub("", text))) & PAST_REPORT_FIGURES
    for c in d.citations:
        if c.chunk.kind == "regulation":
            assert f"《{c.chunk.title}》" in text


def test_without_facts_the_draft_leaves_placeholders_not_figures(kb):
    d = draft(kb, SECTION)
    text = "".join(p.text for p in d.paragraphs)
    assert "【待补充" in text and d.check.placeholders >= 1
    assert {c.chunk.kind for c in d.citations} <= {"regulation", "list"}
    assert set(figures(MARKER.sub("", text))) <= allowed_figures(c.chunk.text for c in d.citations)
    assert any("【待补充" in i or "待补充" in i for i in d.check.issues)


def test_an_edited_outline_is_written_point_by_point(kb):
    text = "一、强化责任落实\n（一）压实党委主体责任\n    一是召开党委会专题研究全面从严治党工作\n    二是开展廉洁文化进家庭活动"
    d = draft(kb, "强化责任落实", outline=text, facts=[FACTS])
    (sec,) = [s for s in d.sections if s.paragraphs]
    body = sec.paragraphs[0].text
    assert "一是" in body and "二是" in body
    assert "12次" in body  # the matching fact fills the first point
    assert "开展廉洁文化进家庭活动，【待补充" in body  # no fact for the second: a placeholder, not an invention


def test_figure_masking():
    text, masked = mask_unknown_figures("召开党委会20次[1]，谈话26人次，一起学习，开展一次性排查。", {"26"})
    assert text == "召开党委会**次[1]，谈话26人次，一起学习，开展一次性排查。" and masked == ("20",)


# ---------------------------------------------------------------- the LLM path


_ITEM = re.compile(r"^\[(\d+)\]（([^，）]+)[^）]*） (.+)$", re.M)


def _llm_reply(messages):
    """A model that rewords every numbered item, and gets some of them wrong in the ways small models do."""
    user = messages[-1][1]
    if "拟写提纲" in user:
        return "二、强化责任落实，扛牢全面从严治党主体责任\n（一）压实党委主体责任\n（二）落实“一岗双责”\n（三）强化监督问责"
    items = _ITEM.findall(user.rsplit("\n材料：\n", 1)[1])
    lines = []
    for n, kind, source in items:
        if kind == "法规要求":
            doc = re.match(r"《[^》]+》", source).group(0)
            lines.append(f"[{n}] 严格落实{doc}关于{source.split('：', 1)[1][:12]}的要求。")
        elif "12次" in source:
            lines.append(f"[{n}] 全年召开党委会37次，其中专题研究全面从严治党工作12次。")  # an invented figure
        elif "26人次" in source:
            lines.append(f"[{n}] 班子成员落实“一岗双责”，对分管部门负责人开展提醒谈话26人次，取得显著成效。")  # an added claim
        else:
            lines.append(f"[{n}] 深入推进清廉机关建设，成效显著。")  # not what the item says
    return "\n".join(lines)


def test_llm_rewords_each_sentence_and_keeps_only_what_its_source_supports(kb):
    model = Scripted(_llm_reply)
    d = draft(kb, SECTION, facts=[FACTS], chat_model=model)
    template = draft(kb, SECTION, facts=[FACTS])
    assert d.backend == "llm" and template.backend == "template"
    assert d.outline == template.outline  # the learned outline unless draft_llm_outline is on
    assert len(model.calls) == len([s for s in d.sections if s.paragraphs])  # one call per section written
    first = model.calls[0][-1][1]
    assert "往年报告" in first and "不得照抄" in first and "（法规要求） 《" in first
    text = "".join(p.text for p in d.paragraphs)
    # Accepted: the reworded requirements; rejected: the invented figure and the unrelated sentence.
    assert re.search(r"《党委（党组）落实全面从严治党主体责任规定》第[^条]+条关于[^“”]+的(要求|规定)", text)
    assert "37" not in text and "党委会专题研究全面从严治党工作12次" in text
    assert "清廉机关" not in text
    # The added claim is cut off; the clause the fact supports stays.
    assert "显著成效" not in text and "提醒谈话26人次[" in text
    assert 0 < d.llm_sentences < d.sentences == template.sentences
    # Same plan as the template: the same sources, cited the same number of times, all verified.
    assert sorted(c.chunk.id for c in d.citations) == sorted(c.chunk.id for c in template.citations)
    context = [c.chunk for c in d.citations]
    for p in d.paragraphs:
        again = verify(p.text, context)
        assert again.dropped == () and [u for u in again.unsupported if "【待补充" not in u] == []
    assert d.check.cited_share == 1.0 and d.check.unknown_numbers == ()
    assert any("大模型改写了" in w for w in d.warnings)


def test_accept_rewrite_rules():
    from assistant.core.types import Chunk
    from assistant.drafting.reword import accept_rewrite
    from assistant.drafting.template import Item

    reg = Chunk(
        id="r", doc_id="d", source="reg.md", title="某某工作规定", kind="regulation", article="第九条",
        text="第九条 党组织应当定期开展警示教育，运用典型案例教育党员干部。", path=(), start=0, end=0,
    )
    fact = Chunk(id="f", doc_id="f", source="facts.md", title="事实", kind="facts", text="召开警示教育大会2次，组织观看警示教育片。", path=(), start=0, end=0)
    lead = Item("lead", "深入贯彻《某某工作规定》第九条关于“党组织应当定期开展警示教育”的要求", reg, quote="党组织应当定期开展警示教育", source="《某某工作规定》第九条：党组织应当定期开展警示教育，运用典型案例教育党员干部")
    item = Item("fact", "", fact, source="召开警示教育大会2次，组织观看警示教育片")
    ok = accept_rewrite("[1] 严格落实《某某工作规定》第九条关于定期开展警示教育的要求，用典型案例教育党员干部。", lead, set())
    # The model's name for the requirement replaces the quote; the template's frame stays.
    assert ok == "深入贯彻《某某工作规定》第九条关于定期开展警示教育的要求"
    assert accept_rewrite("党组织定期开展警示教育，运用典型案例教育党员干部", lead, set()) == ""  # no document: reads as a claim
    # A requirement that lists the whole article is named by its first clause.
    long = "严格落实《某某工作规定》第九条关于党组织定期开展警示教育，运用典型案例教育党员干部的要求。"
    assert accept_rewrite(long, lead, set()) == "深入贯彻《某某工作规定》第九条关于党组织定期开展警示教育的要求"
    assert accept_rewrite("严格落实《某某工作规定》关于定期开展警示教育的，运用典型案例的要求", lead, set()) == ok  # no 的的
    assert accept_rewrite("**召开警示教育大会2次**，组织观看警示教育片。", item, set()) == "召开警示教育大会2次，组织观看警示教育片"
    assert accept_rewrite("召开警示教育大会3次，组织观看警示教育片", item, set()) == ""  # a figure the fact lacks
    assert accept_rewrite("召开警示教育大会2次，组织观看警示教育片，全面提升了干部廉洁意识", item, set()) == "召开警示教育大会2次，组织观看警示教育片"
    assert accept_rewrite("召开警示教育大会2次" + "，组织观看警示教育片" * 3, item, set()) == ""  # a loop
    assert accept_rewrite("召开大会【待补充】次", item, set()) == ""
    # Only the name is taken: an article number the model made up around it never reaches the draft; inside it, it fails.
    assert accept_rewrite("严格落实《某某工作规定》第1条关于定期开展警示教育的要求", lead, set()) == ok
    assert accept_rewrite("严格落实《某某工作规定》关于第3条定期开展警示教育的要求", lead, set()) == ""
    assert accept_rewrite("严格落实《某某工作规定》第九条关于加强党员干部日常管理的要求", lead, set()) == ""  # not this rule
    assert accept_rewrite("严格落实《某某工作规定》第九条关于定期开展警示教育，运用典型案例", lead, set()) == ok  # left open
    assert accept_rewrite("严格落实《某某工作规定》第九条定期开展警示教育的要求", lead, set()) == ""  # no 关于: nothing named
    assert accept_rewrite("举办警示教育大会2次，组织观看警示教育片", item, set()) == ""  # 举办 is not what the fact says
    assert accept_rewrite("召开警示教育大会2次，组织观看警示教育片的要求", item, set()) == ""
    assert accept_rewrite("全年召开警示教育大会2次，组织观看警示教育片", item, set()) == "全年召开警示教育大会2次，组织观看警示教育片"


def test_llm_failure_falls_back_to_the_template(kb, monkeypatch):
    monkeypatch.setattr(kb.settings, "draft_llm_outline", True)

    def broken(messages):
        raise ConnectionError("server down")

    d = draft(kb, SECTION, facts=[FACTS], chat_model=Scripted(broken))
    assert d.backend == "template"
    assert "大模型不可用" in d.outline.source
    assert any("大模型调用失败" in w for w in d.warnings)
    assert all(p.citations for p in d.paragraphs)


def test_llm_text_that_is_no_rewording_leaves_the_template(kb):
    outline = Outline("", (Heading(1, "强化责任落实"), Heading(2, "压实党委主体责任")))
    d = draft(kb, SECTION, outline=outline, facts=[FACTS], chat_model=Scripted(lambda m: "我们做了很多工作，成效很好。"))
    template = draft(kb, SECTION, outline=outline, facts=[FACTS])
    assert d.backend == "template" and d.llm_sentences == 0 < d.sentences
    assert any(f"大模型改写了 0/{d.sentences} 句" in w for w in d.warnings)
    assert [p.text for p in d.paragraphs] == [p.text for p in template.paragraphs]


def test_llm_outline_is_used_only_when_asked_and_checked(kb, monkeypatch):
    good = Scripted(_llm_reply)
    assert propose_outline(kb, SECTION, good) == propose_outline(kb, SECTION) and good.calls == []
    monkeypatch.setattr(kb.settings, "draft_llm_outline", True)
    o = propose_outline(kb, SECTION, good)
    assert [h.title for h in o.headings if h.level == 2] == ["压实党委主体责任", "落实“一岗双责”", "强化监督问责"]
    assert o.source.startswith("大模型")

    def copying(messages):
        # A small model repeats the topic and other sections' 一级标题 one level down.
        return "二、强化责任落实，扛牢全面从严治党主体责任\n（一）坚持政治引领，把牢正确政治方向\n（二）强化责任落实，扛牢全面从严治党主体责任\n（三）压实党委主体责任"

    d = propose_outline(kb, SECTION, Scripted(copying))
    assert "未通过检查" in d.source
    assert d.headings == propose_outline(kb, SECTION).headings


# ---------------------------------------------------------------- CLI and UI


def _cli(kb, *args: str) -> list[str]:
    s = kb.settings
    return ["--knowledge-dir", str(s.knowledge_dir), "--index-dir", str(s.index_dir), "--embedder", "hash", "draft", *args]


def test_cli_outline_then_docx_and_markdown(kb, tmp_path, capsys):
    from assistant.faces.cli.main import main

    assert main(_cli(kb, "--topic", SECTION, "--outline-only")) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("二、强化责任落实")
    outline = tmp_path / "outline.txt"
    outline.write_text(printed + "（三）强化监督检查\n", "utf-8")
    out = tmp_path / "out" / "draft.docx"
    assert main(_cli(kb, "--topic", SECTION, "--outline", str(outline), "--facts", str(FACTS), "--out", str(out), "--json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert out.is_file() and out.with_suffix(".md").is_file()
    assert [s["heading"] for s in result["sections"]][-1] == "（三）强化监督检查"
    assert result["check"]["unknown_numbers"] == [] and result["citations"]
    assert "（三）强化监督检查" in out.with_suffix(".md").read_text("utf-8")


def test_cli_errors_are_one_line(kb, tmp_path, capsys):
    from assistant.faces.cli.main import main

    assert main(_cli(kb, "--topic", SECTION)) == 2
    assert capsys.readouterr().err.startswith("错误：没有给出输出文件 — 加上 --out")
    assert main(_cli(kb, "--topic", SECTION, "--facts", str(tmp_path / "none.md"), "--out", str(tmp_path / "d.docx"))) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：事实材料文件") and err.count("\n") == 1


def test_cli_draft_eval_prints_coverage_and_citation_share(kb, tmp_path, capsys):
    from assistant.faces.cli.main import main

    topics = tmp_path / "topics.jsonl"
    shutil.copy(FACTS, tmp_path / "facts.md")
    rows = [
        {"topic": SECTION, "facts": "facts.md", "reference": ["（一）压实党委主体责任", "（二）落实“一岗双责”", "（三）强化监督问责"]},
        {"topic": REPORT, "reference": ["一、坚持政治引领", "二、强化责任落实", "三、加强干部队伍建设"]},
    ]
    topics.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    assert main(_cli(kb, "eval", str(topics), "--json")) == 0
    report = json.loads(capsys.readouterr().out)
    first, second = report["topics"]
    assert first["coverage"] == pytest.approx(2 / 3, abs=1e-3)  # the third reference heading is not in the proposal
    assert first["cited_share"] == 1.0 and first["report_citations"] == 0 and first["unknown_numbers"] == 0
    assert 0 < second["coverage"] < 1
    assert main(_cli(kb, "eval", str(topics))) == 0
    table = capsys.readouterr().out
    assert "提纲覆盖" in table and "引用句占比" in table and "平均（2 个主题" in table


def test_draft_eval_compares_template_and_llm_prose(kb):
    from assistant.drafting.evaluate import evaluate, format_comparison, prose_stats, quoted_fragments

    topics = [{"topic": SECTION, "facts": str(FACTS), "reference": ["（一）压实党委主体责任", "（二）落实“一岗双责”"]}]
    reports = [evaluate(kb, topics), evaluate(kb, topics, chat_model=Scripted(_llm_reply))]
    assert [r["backend"] for r in reports] == ["template", "llm"]
    tpl, llm = (r["topics"][0] for r in reports)
    assert tpl["llm_share"] == 0 and 0 < llm["llm_share"] < 1
    assert tpl["cited_share"] == llm["cited_share"] == 1.0 and tpl["coverage"] == llm["coverage"]
    assert tpl["rule_sentences"] == llm["rule_sentences"] > 0 and 0 < tpl["style"] <= 1
    assert llm["quote_fragments"] <= tpl["quote_fragments"]  # a named requirement quotes nothing
    table = format_comparison(reports)
    assert "引文截断" in table and "template" in table.splitlines()[0] and "llm" in table.splitlines()[0]
    # The measures themselves.
    stats = prose_stats(["严格落实规定要求", "严格落实清单任务", "召开党委会十二次"], Counter({"落实": 1}))
    assert stats["repeated_openings"] == round(2 / 3, 4) and stats["sentence_chars"] == 8.0 and stats["style"] > 0
    from assistant.core.types import Chunk, Citation
    from assistant.drafting.model import Paragraph

    rule = Chunk(id="r", doc_id="d", title="规定", text="党委每年年初应当制定年度任务安排，明确责任分工。党委应当落实“四风”整治要求。", kind="regulation")
    p = Paragraph(
        "对照《规定》“党委每年年初应当制定年度任务安排”的要求[1]。落实《规定》“党委应当落实“四风”整治要求”的规定[1]。",
        (Citation(1, rule, "明确责任分工。"),),
    )
    assert quoted_fragments([p]) == (2, 1)  # the first stops mid-sentence; “四风” alone is a term, not a quote


def test_draft_tab_builds_and_writes_downloads(kb, tmp_path):
    import gradio as gr

    from assistant.app.drafting import Drafting
    from assistant.faces.ui.draft_tab import build_draft_tab, draft_html, outline_for, sources_html, write_draft

    with gr.Blocks() as demo, gr.Tabs():
        build_draft_tab(kb)
    assert [b.label for b in demo.blocks.values() if isinstance(b, gr.Tab)] == ["起草"]
    assert {b.value for b in demo.blocks.values() if isinstance(b, gr.Button)} == {"生成提纲", "撰写"}
    outline_text, status = outline_for(Drafting(kb), SECTION)
    assert outline_text.startswith("二、") and "提纲来源" in status
    edited = outline_text + "\n（三）强化监督检查"
    d, docx_path, md_path = write_draft(Drafting(kb), SECTION, edited, [str(FACTS)], "开展廉政谈话<script>x</script>30人次", out_dir=tmp_path)
    assert docx_path.is_file() and md_path.is_file()
    body = draft_html(d)
    assert "（三）强化监督检查" in body and '<sup class="draft-cite"' in body and "<script>" not in body
    assert "[1]" in sources_html(d)
