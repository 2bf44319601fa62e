"""Each evaluation metric on tiny cases whose answers were worked out by hand."""

from __future__ import annotations

import json
import math

import pytest

from assistant.core.errors import AssistantError
from assistant.core.types import Chunk
from assistant.evaluation import metrics as M
from assistant.evaluation.format import (
    article_matches,
    doc_matches,
    gold_index,
    gold_problems,
    keypoint_found,
    load_qa,
    parse_item,
    split_doc,
)


# -------------------------------------------------------------- retrieval
# matches[i] = index of the gold source the (i+1)-th hit satisfies, -1 for none.
def test_first_ranks_count_each_gold_once():
    assert M.first_ranks([-1, 0, 1, 0], 2) == [2, 3]
    assert M.first_ranks([-1, -1], 2) == [None, None]


def test_hit_at_k_any_and_all_required():
    m = [-1, 0, 1]
    assert M.hit_at(m, 2, 1) == 0.0
    assert M.hit_at(m, 2, 2) == 1.0  # any gold source is enough
    assert M.hit_at(m, 2, 2, all_required=True) == 0.0  # second source only at rank 3
    assert M.hit_at(m, 2, 3, all_required=True) == 1.0
    assert M.hit_at([-1] * 10, 1, 10) == 0.0


def test_reciprocal_rank():
    assert M.reciprocal_rank([-1, 0, 1], 2) == 0.5
    assert M.reciprocal_rank([-1, 0, 1], 2, all_required=True) == pytest.approx(1 / 3)
    assert M.reciprocal_rank([-1, -1, -1], 1) == 0.0
    assert M.reciprocal_rank([-1] * 10 + [0], 1) == 0.0  # beyond the top 10


def test_ndcg_binary_gain():
    assert M.ndcg_at([0], 1) == 1.0
    assert M.ndcg_at([-1, 0], 1) == pytest.approx(1 / math.log2(3))  # 0.6309
    # Parts of the same article do not add gain twice.
    assert M.ndcg_at([0, 0, -1], 1) == 1.0
    # all_required: dcg = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3)
    assert M.ndcg_at([0, -1, 1], 2, all_required=True) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    # any-of: a second gold source adds nothing once one is found.
    assert M.ndcg_at([0, 1], 2) == 1.0
    assert M.ndcg_at([-1] * 3, 1) == 0.0


# -------------------------------------------------------------- answers and citations
def test_keypoint_coverage():
    assert M.keypoint_coverage([True, False, True, True]) == 0.75
    assert M.keypoint_coverage([]) == 1.0


def test_keypoint_found_ignores_punctuation_and_accepts_alternatives():
    text = "第八条 政务处分的期间为：（一）警告，六个月；（二）记过，十二个月。留党察看最长不超过两年。"
    assert keypoint_found("警告，六个月", text)
    assert keypoint_found("警告六个月", text)  # punctuation does not matter
    assert keypoint_found("二年|两年", text)
    assert not keypoint_found("三年", text)
    assert not keypoint_found("二年", text)


def test_ratio_is_undefined_without_denominator():
    assert M.ratio(3, 4) == 0.75
    assert M.ratio(0, 0) is None


# -------------------------------------------------------------- refusals and latency
def test_refusal_scores_by_hand():
    refused = [True, True, False, False, True]
    unanswerable = [True, False, True, False, True]
    s = M.refusal_scores(refused, unanswerable)  # tp 2, fp 1, fn 1, tn 1
    assert (s["tp"], s["fp"], s["fn"], s["tn"]) == (2, 1, 1, 1)
    assert s["refusal_precision"] == pytest.approx(2 / 3)
    assert s["refusal_recall"] == pytest.approx(2 / 3)
    assert s["refusal_f1"] == pytest.approx(2 / 3)
    assert s["false_refusal_rate"] == 0.5
    assert s["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_refusal_scores_without_unanswerable_questions():
    s = M.refusal_scores([False, True], [False, False])
    assert s["refusal_recall"] is None
    assert s["refusal_precision"] == 0.0
    assert s["false_refusal_rate"] == 0.5


def test_percentile_nearest_rank():
    assert M.percentile([40, 10, 30, 20], 50) == 20
    assert M.percentile([40, 10, 30, 20], 95) == 40
    assert M.percentile([5], 95) == 5
    assert M.percentile([], 50) is None


def test_mean_skips_undefined():
    assert M.mean([1.0, None, 0.0]) == 0.5
    assert M.mean([None]) is None


# -------------------------------------------------------------- refusal threshold
def test_best_threshold_by_hand():
    answerable, unanswerable = [0.5, 0.8, 0.9], [0.1, 0.3, 0.6]
    best = M.best_threshold(answerable, unanswerable, "f1")
    # t = 0.7 refuses 0.1 0.3 0.5 0.6: tp 3, fp 1, fn 0 -> F1 6/7
    assert best["threshold"] == pytest.approx(0.7)
    assert best["f1"] == pytest.approx(6 / 7)
    ba = M.best_threshold(answerable, unanswerable, "balanced_accuracy")
    # 0.4 and 0.7 both give (2/3 + 1)/2; ties go to the lower threshold
    assert ba["threshold"] == pytest.approx(0.4)
    assert ba["balanced_accuracy"] == pytest.approx(5 / 6)


def test_threshold_needs_both_groups():
    assert M.best_threshold([0.5], []) is None
    assert M.threshold_table([], [0.2]) == []


def test_cross_validated_threshold_on_separable_data():
    answerable = [0.6, 0.7, 0.8, 0.9, 0.95]
    unanswerable = [0.1, 0.15, 0.2, 0.25, 0.3]
    cv = M.cross_validated(answerable, unanswerable, "f1", folds=5)
    assert cv["f1"] == 1.0
    assert 0.3 < cv["threshold_min"] <= cv["threshold_max"] < 0.6
    assert M.cross_validated(answerable[:2], unanswerable, folds=5) is None


# -------------------------------------------------------------- gold matching and the format
PARTY = Chunk(
    id="c1",
    doc_id="d",
    title="中国共产党章程",
    text="第四十一条 对党员的纪律处分有五种。",
    article="第四十一条",
    version="2017",
    source="regulations/中国共产党章程(2017).md",
)
SECTION = Chunk(
    id="c2",
    doc_id="e",
    title="关于新形势下党内政治生活的若干准则",
    text="坚持“三会一课”制度。",
    article="九、严格党的组织生活制度",
    version="2016",
    source="regulations/关于新形势下党内政治生活的若干准则(2016).md",
)


def test_doc_matches_title_file_name_and_version():
    assert split_doc("中国共产党章程(2017)") == ("中国共产党章程", "2017")
    assert split_doc("中国共产党章程（2017）") == ("中国共产党章程", "2017")
    assert doc_matches(PARTY, "中国共产党章程")
    assert doc_matches(PARTY, "中国共产党章程(2017)")
    assert doc_matches(PARTY, "中国共产党章程（2017）")
    assert not doc_matches(PARTY, "中国共产党章程(2022)")
    assert not doc_matches(PARTY, "中国共产党纪律处分条例")


def test_article_matches_parts_and_sections():
    assert article_matches(PARTY, "第四十一条")
    assert not article_matches(PARTY, "第四十条")
    assert article_matches(PARTY, "")
    assert article_matches(SECTION, "九、严格党的组织生活制度")
    assert article_matches(SECTION, "九、")
    nineteen = Chunk(id="c3", doc_id="e", title=SECTION.title, text="x", article="十九、其他")
    assert not article_matches(nineteen, "九、")


def test_gold_index_returns_first_satisfied_source():
    item = parse_item(
        {
            "id": 1,
            "question": "q",
            "answerable": True,
            "gold": [{"doc": "中国共产党纪律处分条例", "article": "第八条"}, {"doc": "中国共产党章程", "article": "第四十一条"}],
        }
    )
    assert gold_index(PARTY, item.gold) == 1
    assert gold_index(SECTION, item.gold) == -1


def test_gold_problems_find_missing_articles_and_keypoints():
    ok = parse_item(
        {
            "id": "a",
            "question": "q",
            "answerable": True,
            "gold": [{"doc": "中国共产党章程", "article": "第四十一条"}],
            "keypoints": ["纪律处分有五种"],
        }
    )
    bad_article = parse_item(
        {"id": "b", "question": "q", "answerable": True, "gold": [{"doc": "中国共产党章程", "article": "第九十九条"}]}
    )
    bad_doc = parse_item({"id": "c", "question": "q", "answerable": True, "gold": [{"doc": "不存在的文件", "article": "第一条"}]})
    bad_kp = parse_item(
        {
            "id": "d",
            "question": "q",
            "answerable": True,
            "gold": [{"doc": "中国共产党章程", "article": "第四十一条"}],
            "keypoints": ["开除党籍"],
        }
    )
    problems = gold_problems([ok, bad_article, bad_doc, bad_kp], [PARTY, SECTION])
    assert [p.split(":")[0] for p in problems] == ["b", "c", "d"]


def test_load_qa_accepts_the_format_and_reports_errors(tmp_path):
    good = tmp_path / "good.jsonl"
    lines = [
        {
            "id": "q1",
            "question": "四种形态是什么？",
            "answerable": True,
            "gold": [{"doc": "中国共产党纪律处分条例", "article": "第五条"}],
            "keypoints": ["红红脸、出出汗"],
            "type": "policy",
        },
        {"id": "q2", "question": "明天天气？", "answerable": False, "gold": [], "keypoints": [], "type": "unanswerable"},
    ]
    good.write_text(json.dumps(lines[0], ensure_ascii=False) + "\n\n" + json.dumps(lines[1], ensure_ascii=False) + "\n", "utf-8")
    items = load_qa(good)
    assert [i.id for i in items] == ["q1", "q2"]
    assert items[0].gold[0].article == "第五条" and not items[1].answerable
    assert items[0].as_dict() == lines[0]

    cases = {
        '{"id": "x", "question": "q", "answerable": true}': "gold 出处",
        '{"id": "x", "question": "q", "answerable": false, "type": "policy"}': "unanswerable",
        '{"id": "x", "question": "q", "answerable": "yes"}': "true 或 false",
        '{"id": "x", "question": "q", "answerable": false, "colour": 1}': "未知字段",
        '{"id": "x", "question": "q", "answerable": false}\n{"id": "x", "question": "q", "answerable": false}': "重复",
        "not json": "不是有效的 JSON",
    }
    for text, expected in cases.items():
        bad = tmp_path / "bad.jsonl"
        bad.write_text(text + "\n", "utf-8")
        with pytest.raises(AssistantError, match=expected):
            load_qa(bad)
    with pytest.raises(AssistantError, match="不存在"):
        load_qa(tmp_path / "missing.jsonl")
