"""The evaluation runner end to end on a tiny knowledge base with the hash embedder, and the dev set's gold."""

from __future__ import annotations

import json

import pytest

from assistant.app.evaluation import evaluate, index_matches, worst
from assistant.evaluation.format import load_qa
from assistant.faces.cli.main import main

DOCS = {
    "测试主体责任规定(2020).md": "# 测试主体责任规定\n\n"
    "第一条 党委书记是全面从严治党第一责任人，要做到重要工作亲自部署、重大问题亲自过问。\n\n"
    "第二条 领导班子其他成员按照一岗双责要求，领导、检查、督促分管部门和单位全面从严治党工作。\n\n"
    "第三条 党委每半年至少召开一次常委会会议专题研究全面从严治党工作。\n",
    "测试纪律处分条例(2023).md": "# 测试纪律处分条例\n\n"
    "第一条 对党员的纪律处分种类：警告、严重警告、撤销党内职务、留党察看、开除党籍。\n\n"
    "第二条 留党察看期限最长不得超过二年。\n",
}
QA = [
    {
        "id": "a1",
        "question": "一岗双责要求领导班子其他成员做什么？",
        "answerable": True,
        "gold": [{"doc": "测试主体责任规定", "article": "第二条"}],
        "keypoints": ["一岗双责", "分管部门和单位"],
        "type": "policy",
    },
    {
        "id": "a2",
        "question": "留党察看期限最长多久？",
        "answerable": True,
        "gold": [{"doc": "测试纪律处分条例(2023)", "article": "第二条"}],
        "keypoints": ["二年|两年"],
        "type": "policy",
    },
    {
        "id": "a3",
        "question": "党委多长时间专题研究一次全面从严治党工作？",
        "answerable": True,
        "gold": [{"doc": "测试主体责任规定", "article": "第三条"}],
        "keypoints": ["每半年"],
        "type": "report",
    },
    {"id": "u1", "question": "明天北京天气怎么样？", "answerable": False, "gold": [], "keypoints": [], "type": "unanswerable"},
    {
        "id": "u2",
        "question": "个人所得税起征点是多少？",
        "answerable": False,
        "gold": [],
        "keypoints": [],
        "type": "unanswerable",
    },
]


@pytest.fixture()
def tiny(hash_settings, hash_service, tmp_path):
    for name, text in DOCS.items():
        (hash_settings.knowledge_dir / name).write_text(text, "utf-8")
    hash_service.ingest(show_bar=False)
    qa = tmp_path / "tiny.jsonl"
    qa.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QA), "utf-8")
    return hash_settings, hash_service, qa


def test_runner_scores_a_tiny_set(tiny):
    settings, service, qa = tiny
    run = evaluate(service, load_qa(qa))
    rows = {r["id"]: r for r in run.rows}
    assert list(rows) == ["a1", "a2", "a3", "u1", "u2"]
    # The gold article shares the question's rare words, so lexical retrieval puts it first.
    assert rows["a1"]["hit@1"] == 1.0 and rows["a1"]["rr"] == 1.0 and rows["a1"]["ndcg@10"] == 1.0
    assert rows["a1"]["top1"].startswith("《测试主体责任规定》")
    assert not rows["a1"]["refused"] and rows["a1"]["keypoint_coverage"] == 1.0
    # Nothing in the corpus is about the weather or taxes: refused, no citations, no retrieval metrics.
    for uid in ("u1", "u2"):
        assert rows[uid]["refused"] and rows[uid]["citations"] == 0 and rows[uid]["hit@1"] is None
    s = run.summary
    assert (s["questions"], s["answerable"], s["unanswerable"]) == (5, 3, 2)
    assert s["refusal_recall"] == 1.0
    assert s["citation_validity"] == 1.0  # the answerer's quotes are verbatim substrings of retrieved chunks
    assert 0.0 <= s["citation_precision"] <= 1.0
    assert s["hit@10"] >= s["hit@5"] >= s["hit@1"]
    assert s["latency_p95_ms"] >= s["latency_p50_ms"] > 0
    assert s["threshold"]["best_by_f1"]["threshold"] > max(s["threshold"]["unanswerable"])
    assert run.config["embedder"] == "hash" and run.config["mode"] == "hybrid"
    # Refused answerable questions lose all their keypoints; worst() surfaces them first.
    assert all(r["id"] in rows for r in worst(run.rows))


def test_cli_eval_writes_rows_summary_plots_and_report(tiny, capsys):
    settings, _service, qa = tiny
    out = settings.index_dir.parent / "out"
    base = ["--knowledge-dir", str(settings.knowledge_dir), "--index-dir", str(settings.index_dir), "--embedder", "hash"]
    assert main(base + ["eval", str(qa), "--mode", "bm25", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "hit@1" in printed and "bm25" in printed
    for name in ("rows.csv", "rows.jsonl", "summary.json", "report.md", "metrics.png", "relevance.png"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["runs"][0]["config"]["mode"] == "bm25"
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == [q["id"] for q in QA]
    assert (out / "rows.csv").read_text("utf-8-sig").splitlines()[0].startswith("run,id,question")
    assert "## Worst questions" in (out / "report.md").read_text("utf-8")

    assert main(base + ["eval", "threshold", str(qa)]) == 0
    assert "best by f1" in capsys.readouterr().out
    assert main(base + ["eval", "check", str(qa)]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_cli_eval_errors_are_one_line(tiny, capsys, tmp_path):
    settings, _service, _qa = tiny
    base = ["--knowledge-dir", str(settings.knowledge_dir), "--index-dir", str(settings.index_dir), "--embedder", "hash"]
    assert main(base + ["eval", str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("错误：") and "不存在" in err and "\n" not in err
    assert main(base + ["eval", "sweep"]) == 2
    assert "需要一个问答集文件" in capsys.readouterr().err


def test_sweep_builds_an_index_per_embedder_and_reuses_a_matching_one(tiny, tmp_path, capsys):
    settings, _service, qa = tiny
    out = tmp_path / "sweep"
    base = ["--knowledge-dir", str(settings.knowledge_dir), "--embedder", "hash"]
    # The configured index (built by the fixture) matches the knowledge dir: reused, nothing built under out/index.
    assert index_matches(settings.kb_dir, settings.knowledge_dir, "hash")
    assert (
        main(
            base
            + [
                "--index-dir",
                str(settings.index_dir),
                "eval",
                "sweep",
                str(qa),
                "--modes",
                "bm25,hybrid",
                "--embedders",
                "hash",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "reusing" in captured.err and not (out / "index").exists()
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert [r["name"] for r in summary["runs"]] == ["bm25/-", "hybrid/hash"]
    # With no usable index configured, the sweep builds its own under OUT/index/<embedder>.
    out2 = tmp_path / "sweep2"
    assert (
        main(
            base
            + [
                "--index-dir",
                str(tmp_path / "empty"),
                "eval",
                "sweep",
                str(qa),
                "--modes",
                "vector",
                "--embedders",
                "hash",
                "--out",
                str(out2),
            ]
        )
        == 0
    )
    assert index_matches(out2 / "index" / "hash" / "default", settings.knowledge_dir, "hash")
    assert not (tmp_path / "empty").exists()
    # A changed knowledge dir no longer matches.
    (settings.knowledge_dir / "新文件.md").write_text("# 新文件\n\n第一条 新内容。\n", "utf-8")
    assert not index_matches(settings.kb_dir, settings.knowledge_dir, "hash")


def test_eval_tab_runs_a_set(tiny):
    gr = pytest.importorskip("gradio")
    from assistant.faces.ui.eval_tab import build_eval_tab, run_eval

    settings, service, qa = tiny
    with gr.Blocks():
        build_eval_tab(service)
    status, summary, metrics_png, relevance_png, worst_rows, files, runs = run_eval(service, None, str(qa), "bm25", 0, [])
    assert "tiny.jsonl" in status and len(runs) == 1
    assert summary["headers"][1].startswith("bm25")
    assert metrics_png.endswith("metrics.png") and relevance_png.endswith("relevance.png")
    assert all(len(r) == 9 for r in worst_rows)
    _, summary2, *_rest, runs2 = run_eval(service, None, str(qa), "hybrid", 2, runs)
    assert len(runs2) == 2 and len(summary2["headers"]) == 3  # two runs side by side


def test_report_falls_back_to_ascii_labels_without_cjk_font(tiny, monkeypatch, tmp_path):
    from assistant.app import report

    settings, service, qa = tiny
    monkeypatch.setattr(report, "cjk_font", lambda: None)
    run = evaluate(service, load_qa(qa)[:2], mode="bm25", name="中文名 bm25")
    assert report._label(run.name, zh=False) == "bm25"
    path = report.write_report([run], tmp_path / "r", qa)
    assert (tmp_path / "r" / "metrics.png").stat().st_size > 0 and path.is_file()


@pytest.mark.corpus
def test_dev_set_gold_exists_in_the_chunked_corpus(corpus_dir):
    """Every gold doc/article of evals/sets/dev.jsonl exists in the chunked corpus, and every keypoint of an
    answerable question is in the text of its gold articles (so the gold really answers it)."""
    import dataclasses

    from assistant.evaluation.format import doc_matches, gold_problems, set_stats, sets_dir
    from assistant.ingest.chunking import chunk_document
    from assistant.ingest.loaders import load_document
    from assistant.ingest.pipeline import Source, scan

    files, _ = scan([Source(corpus_dir)])
    chunks = []
    for rel, (path, root) in files.items():
        chunks.extend(chunk_document(dataclasses.replace(load_document(path, root), source=rel)))
    items = load_qa(sets_dir() / "dev.jsonl")
    assert gold_problems(items, chunks) == []
    # The colloquial dev sets and the frozen held-out set are held to the same check.
    for name in ("dev_colloquial.jsonl", "dev_lookalike.jsonl", "heldout.jsonl"):
        other = load_qa(sets_dir() / name)
        assert gold_problems(other, chunks) == [], name
        assert set_stats(other).unanswerable >= 20, name
    stats = set_stats(items)
    assert stats.questions >= 60 and stats.unanswerable >= 10
    documents = {c.source for c in chunks if c.source != "MANIFEST.md"}
    asked = {c.source for c in chunks for it in items for g in it.gold if doc_matches(c, g.doc)}
    assert documents <= asked, f"documents without questions: {sorted(documents - asked)}"
