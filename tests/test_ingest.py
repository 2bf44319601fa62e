import json

import pytest

from assistant.index.embeddings import HashEmbedder
from assistant.index.retrieval import IndexReader, make_retriever
from assistant.index.store import current_generation, read_chunks
from assistant.ingest.pipeline import Source, ingest

RULE = "# 测试责任规定\n\n## 第一章 总则\n\n第一条 为落实主体责任，制定本规定。\n\n第二条 班子成员履行一岗双责，对分管领域党风廉政建设负领导责任。\n\n第三条 本规定自发布之日起施行。\n"
OTHER = "# 作风建设办法\n\n第一条 严格执行中央八项规定精神，持续纠治四风。\n\n第二条 加强监督检查。\n\n第三条 本办法自印发之日起施行。\n"


class CountingEmbedder(HashEmbedder):
    def __init__(self, fail_after: int | None = None):
        super().__init__()
        self.calls = 0
        self.fail_after = fail_after

    def embed_documents(self, texts):
        self.calls += len(texts)
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("simulated crash while embedding")
        return super().embed_documents(texts)


@pytest.fixture()
def kdir(tmp_path):
    d = tmp_path / "k"
    d.mkdir()
    (d / "责任规定.md").write_text(RULE, "utf-8")
    (d / "作风办法.md").write_text(OTHER, "utf-8")
    return d


def test_incremental_ingest_embeds_only_what_changed(kdir, tmp_path):
    kb = tmp_path / "kb"
    emb = CountingEmbedder()
    first = ingest([Source(kdir)], kb, emb, show_bar=False)
    assert first.chunks == 6 and first.embedded == 6
    again = ingest([Source(kdir)], kb, emb, show_bar=False)
    assert not again.changed and again.embedded == 0
    assert {f.status for f in again.files} == {"unchanged"}

    (kdir / "责任规定.md").write_text(RULE.replace("本规定自发布之日起施行", "本规定自2025年1月1日起施行"), "utf-8")
    changed = ingest([Source(kdir)], kb, emb, show_bar=False)
    assert changed.embedded == 1  # only the edited article
    assert {f.path: f.status for f in changed.files}["责任规定.md"] == "updated"

    (kdir / "作风办法.md").unlink()
    removed = ingest([Source(kdir)], kb, emb, show_bar=False)
    assert removed.chunks == 3
    chunks, _ = read_chunks(current_generation(kb))
    assert {c.title for c in chunks} == {"测试责任规定"}
    reader = IndexReader(kb)
    assert reader.collection.count() == 3  # stale vectors deleted too


def test_failed_ingest_leaves_previous_index_usable(kdir, tmp_path):
    kb = tmp_path / "kb"
    ingest([Source(kdir)], kb, CountingEmbedder(), show_bar=False)
    live = current_generation(kb)
    (kdir / "新增.md").write_text(OTHER.replace("作风建设办法", "新增办法").replace("四风", "四风问题和形式主义"), "utf-8")
    with pytest.raises(RuntimeError):
        ingest([Source(kdir)], kb, CountingEmbedder(fail_after=0), show_bar=False)
    assert current_generation(kb) == live
    assert len(list(kb.glob("gen-*"))) == 1  # the half-built generation was removed
    hits = make_retriever("hybrid", IndexReader(kb), HashEmbedder()).search("一岗双责", 3)
    assert hits and hits[0].chunk.article == "第二条"


def test_same_content_twice_is_reported_as_duplicate(kdir, tmp_path):
    (kdir / "副本.md").write_text(RULE, "utf-8")
    report = ingest([Source(kdir)], tmp_path / "kb", HashEmbedder(), show_bar=False)
    dup = [f for f in report.files if f.status == "duplicate"]
    assert len(dup) == 1 and "内容相同" in dup[0].error
    assert report.chunks == 6


def test_superseded_versions_are_labelled(tmp_path):
    d = tmp_path / "k"
    d.mkdir()
    (d / "中国共产党问责条例(2016).md").write_text("# 中国共产党问责条例\n\n第一条 旧版内容。\n\n第二条 问责情形。\n\n第三条 施行。", "utf-8")
    (d / "廉洁规定(2018).md").write_text("# 某廉洁规定\n\n第一条 旧内容。\n\n第二条 二。\n\n第三条 三。", "utf-8")
    (d / "廉洁规定(2023).md").write_text("# 某廉洁规定\n\n第一条 新内容。\n\n第二条 二二。\n\n第三条 三三。", "utf-8")
    ingest([Source(d)], tmp_path / "kb", HashEmbedder(), show_bar=False)
    chunks, _ = read_chunks(current_generation(tmp_path / "kb"))
    by = {(c.title, c.version): c for c in chunks}
    old = by[("中国共产党问责条例", "2016")]
    assert old.superseded and "2019" in old.superseded_by and "旧版" in old.label
    assert by[("某廉洁规定", "2018")].superseded and by[("某廉洁规定", "2018")].superseded_by == "2023年版"
    assert not by[("某廉洁规定", "2023")].superseded


@pytest.mark.parametrize("mode", ["bm25", "vector", "hybrid"])
def test_retrieval_modes_find_the_article(kdir, tmp_path, mode):
    kb = tmp_path / "kb"
    ingest([Source(kdir)], kb, HashEmbedder(), show_bar=False)
    hits = make_retriever(mode, IndexReader(kb), HashEmbedder()).search("八项规定和四风", 3)
    assert hits[0].chunk.title == "作风建设办法" and hits[0].chunk.article == "第一条"
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_manifest_records_embedder_and_files(kdir, tmp_path):
    kb = tmp_path / "kb"
    ingest([Source(kdir)], kb, HashEmbedder(), show_bar=False)
    manifest = json.loads((current_generation(kb) / "manifest.json").read_text("utf-8"))
    assert manifest["embedder"] == "hash"
    assert manifest["files"]["责任规定.md"]["chunks"] == 3
    assert manifest["files"]["责任规定.md"]["kind"] == "regulation"


def test_chunker_change_rechunks_but_reuses_vectors(kdir, tmp_path, monkeypatch):
    import assistant.ingest.pipeline as pipeline

    kb = tmp_path / "kb"
    emb = CountingEmbedder()
    ingest([Source(kdir)], kb, emb, show_bar=False)
    monkeypatch.setattr(pipeline, "CHUNKER_VERSION", "test-next")
    report = ingest([Source(kdir)], kb, emb, show_bar=False)
    assert report.changed and {f.status for f in report.files} == {"updated"}
    assert report.embedded == 0  # same chunk text, same ids: vectors are reused
    manifest = json.loads((current_generation(kb) / "manifest.json").read_text("utf-8"))
    assert manifest["chunker"].startswith("test-next/")


def test_a_new_generation_gets_the_configured_hnsw_parameters(kdir, tmp_path, monkeypatch):
    """Real chroma: a new collection has store.HNSW's search parameters; a generation seeded from an older one (built
    with chroma's defaults) gets the configured ef_search, one built with another graph gets a new graph; the older
    generation keeps what it was built with."""
    from assistant.index import store

    kb = tmp_path / "kb"
    emb = CountingEmbedder()
    ingest([Source(kdir)], kb, emb, show_bar=False)
    fresh = store.hnsw_parameters(IndexReader(kb).collection)
    assert {k: fresh[k] for k in store.HNSW} == store.HNSW

    wanted = dict(store.HNSW)
    old = {"space": "cosine", "max_neighbors": 16, "ef_construction": 100, "ef_search": 100}  # chroma's defaults
    for built_with in ({**wanted, "ef_search": wanted["ef_search"] // 2}, {**old, "max_neighbors": wanted["max_neighbors"] * 2}):
        monkeypatch.setattr(store, "HNSW", built_with)
        (kdir / "作风办法.md").write_text(OTHER + f"\n第四条 {built_with['max_neighbors']}号补充条款。\n", "utf-8")
        ingest([Source(kdir)], kb, emb, show_bar=False)
        older = current_generation(kb)
        monkeypatch.setattr(store, "HNSW", wanted)
        (kdir / "责任规定.md").write_text(RULE + f"\n第四条 第{built_with['ef_search']}次修订。\n", "utf-8")
        calls = emb.calls
        report = ingest([Source(kdir)], kb, emb, show_bar=False)
        assert report.embedded == 1 and emb.calls == calls + 1  # the other chunks' vectors are reused either way
        reader = IndexReader(kb)
        now = store.hnsw_parameters(reader.collection)
        assert {k: now[k] for k in wanted} == wanted and reader.collection.count() == report.chunks
        kept = store.hnsw_parameters(store.generation_collection(older))
        assert {k: kept[k] for k in built_with} == built_with
