"""Embedding during ingest (assistant.ingest.embed): vectors in order, wrong guesses repaired, overlap with reading,
cancel and failures handed to the ingest thread, and the time left in the progress text."""

import threading

import numpy as np
import pytest

from assistant.core.types import Chunk
from assistant.index.embeddings import HashEmbedder
from assistant.ingest.embed import EmbedAhead, remaining
from assistant.ingest.pipeline import Source, ingest


def chunk(i: int, text: str) -> Chunk:
    return Chunk(id=f"c{i}", doc_id="d", title="测试", article=f"第{i}条", text=text, source="a.md", kind="regulation")


CHUNKS = [chunk(i, "党风廉政建设" * (1 + i % 7) + f"第{i}项") for i in range(50)]


class Recording(HashEmbedder):
    """The hash embedder, remembering each call's texts and the thread it ran in."""

    def __init__(self, fail: bool = False, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.threads: set[str] = set()
        self.fail = fail
        self.gate = gate
        self.started = threading.Event()

    def embed_documents(self, texts):
        self.started.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append(list(texts))
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("模拟的向量化故障")
        return super().embed_documents(texts)


def test_vectors_come_back_in_the_order_asked_and_equal_direct_embedding():
    emb = Recording()
    with EmbedAhead(emb, slice_size=8) as ahead:
        ahead.add(CHUNKS[:30])
        ahead.add(CHUNKS[30:])
        got = ahead.vectors_for(CHUNKS[::-1], lambda f, d: None)
    want = np.asarray(HashEmbedder().embed_documents([c.retrieval_text for c in CHUNKS[::-1]]), dtype=np.float32)
    assert np.allclose(got, want)
    assert emb.threads == {"embed-ahead"}
    assert sum(len(c) for c in emb.calls) == len(CHUNKS)  # each chunk once
    # longest first within what was waiting: the slices of one take run from long to short texts
    first = [len(t) for t in emb.calls[0]]
    assert first == sorted(first, reverse=True)


def test_a_chunk_guessed_to_have_a_vector_is_still_embedded_when_asked_for():
    emb = Recording()
    with EmbedAhead(emb, skip={"c3", "c4"}) as ahead:
        ahead.add(CHUNKS[:10])
        got = ahead.vectors_for(CHUNKS[:10], lambda f, d: None)
    assert got.shape == (10, emb.dim)
    assert sum(len(c) for c in emb.calls) == 10


def test_an_embedding_failure_reaches_the_ingest_thread():
    with EmbedAhead(Recording(fail=True)) as ahead:
        ahead.add(CHUNKS[:5])
        with pytest.raises(RuntimeError, match="模拟的向量化故障"):
            ahead.vectors_for(CHUNKS[:5], lambda f, d: None)


def test_cancel_from_the_progress_callback_stops_the_thread():
    gate = threading.Event()
    emb = Recording(gate=gate)
    ahead = EmbedAhead(emb, slice_size=4)
    ahead.add(CHUNKS)

    class Stop(BaseException):
        pass

    def note(frac, desc):
        gate.set()  # let the slice in flight finish
        raise Stop

    with pytest.raises(Stop):
        ahead.vectors_for(CHUNKS, note)
    assert ahead._thread is not None and not ahead._thread.is_alive()
    assert sum(len(c) for c in emb.calls) < len(CHUNKS)  # it stopped early


def test_progress_names_the_count_and_the_time_left():
    assert remaining(12.4) == "约 12 秒"
    assert remaining(300) == "约 5 分钟"
    assert remaining(2 * 3600) == "约 2.0 小时"
    notes = []
    with EmbedAhead(Recording(), slice_size=5) as ahead:
        ahead.add(CHUNKS)
        ahead.vectors_for(CHUNKS, lambda f, d: notes.append((f, d)))
    assert ahead.status() == f"向量化 {len(CHUNKS)}/{len(CHUNKS)}"
    assert all(d.startswith("向量化 ") for _, d in notes)


def test_ingest_embeds_while_later_files_are_still_read(tmp_path):
    """The first file's chunks are being embedded before the last file is read (reading waits for that, up to 5 s)."""
    src = tmp_path / "k"
    src.mkdir()
    for i in range(4):
        (src / f"规定{i}.md").write_text(f"# 规定{i}\n\n第一条 加强党风廉政建设第{i}项。\n\n第二条 落实主体责任第{i}项。\n", "utf-8")
    emb = Recording()
    seen_before_last_read = []

    def note(frac, desc):
        if desc.startswith("读取 规定3.md"):
            seen_before_last_read.append(emb.started.wait(5))

    report = ingest([Source(src)], tmp_path / "kb", emb, progress=note, show_bar=False)
    assert report.embedded == report.chunks == 4
    assert seen_before_last_read == [True]
    assert emb.threads == {"embed-ahead"}
