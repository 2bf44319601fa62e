"""Retrievers over one index generation: BM25 over jieba tokens, dense vectors in chroma, and their RRF fusion."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.protocols import Embedder
from assistant.store import COLLECTION, chroma_client, current_generation, read_chunks, read_manifest
from assistant.text import query_tokens
from assistant.types import AssistantError, Chunk, Hit


class IndexReader:
    """Everything one generation holds, loaded once; ``refresh`` picks up a newer generation."""

    def __init__(self, kb_dir: Path) -> None:
        self.kb_dir = kb_dir
        self._lock = threading.Lock()
        self.gen: Path | None = None
        self.refresh()

    def refresh(self) -> bool:
        gen = current_generation(self.kb_dir)
        if gen is None:
            raise AssistantError(f"no index at {self.kb_dir}", "run `assistant ingest` first")
        if gen == self.gen:
            return False
        with self._lock:
            import bm25s

            chunks, tokens = read_chunks(gen)
            self.manifest = read_manifest(gen)
            self.chunks: list[Chunk] = chunks
            self.tokens = [set(t) for t in tokens]
            self.by_id = {c.id: i for i, c in enumerate(chunks)}
            self.bm25 = bm25s.BM25.load(str(gen / "bm25"), load_corpus=False)
            self.vocab: dict[str, int] = self.bm25.vocab_dict
            n = max(len(chunks), 1)
            df: dict[str, int] = {}
            for toks in self.tokens:
                for t in toks:
                    df[t] = df.get(t, 0) + 1
            self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
            self.max_idf = math.log(1 + (n + 0.5) / 0.5)
            self._collection = None
            self.gen = gen
        return True

    @property
    def collection(self):
        if self._collection is None:
            self._collection = chroma_client(self.gen / "chroma").get_collection(COLLECTION)
        return self._collection

    def coverage(self, query: str, idx: int) -> float:
        """Share of the query's IDF mass found in the chunk: a scale-free relevance signal used for refusal."""
        toks = query_tokens(query)
        if not toks:
            return 0.0
        total = sum(self.idf.get(t, self.max_idf) for t in toks)
        found = sum(self.idf.get(t, self.max_idf) for t in toks if t in self.tokens[idx])
        return found / total if total else 0.0

    def hit(self, idx: int, score: float, rank: int, query: str, **scores: float) -> Hit:
        if "coverage" not in scores:
            scores["coverage"] = self.coverage(query, idx)
        scores["coverage"] = round(scores["coverage"], 4)
        return Hit(self.chunks[idx], float(score), rank, tuple(scores.items()))


class Bm25Retriever:
    name = "bm25"

    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader

    def ranked(self, query: str, k: int) -> list[tuple[int, float]]:
        r = self.reader
        toks = [t for t in query_tokens(query) if t in r.vocab]
        if not toks or not r.chunks:
            return []
        scores = r.bm25.get_scores(toks)[: len(r.chunks)]
        k = min(k, len(r.chunks))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def search(self, query: str, k: int) -> list[Hit]:
        return [self.reader.hit(i, s, n + 1, query, bm25=s) for n, (i, s) in enumerate(self.ranked(query, k))]


class VectorRetriever:
    name = "vector"

    def __init__(self, reader: IndexReader, embedder: Embedder) -> None:
        self.reader = reader
        self.embedder = embedder
        built_with = reader.manifest.get("embedder")
        if built_with and built_with != embedder.name:
            raise AssistantError(
                f"index was built with embedder {built_with}, settings ask for {embedder.name}",
                f"run `assistant ingest --rebuild` or set ASSISTANT_EMBEDDER={built_with}",
            )

    def ranked(self, query: str, k: int) -> list[tuple[int, float]]:
        r = self.reader
        if not r.chunks:
            return []
        res = r.collection.query(
            query_embeddings=[self.embedder.embed_query(query)], n_results=min(k, len(r.chunks)), include=["distances"]
        )
        out = []
        for cid, dist in zip(res["ids"][0], res["distances"][0]):
            if cid in r.by_id:
                out.append((r.by_id[cid], 1.0 - float(dist)))
        return out

    def search(self, query: str, k: int) -> list[Hit]:
        return [self.reader.hit(i, s, n + 1, query, cosine=s) for n, (i, s) in enumerate(self.ranked(query, k))]


class HybridRetriever:
    """Reciprocal rank fusion of BM25 and dense rankings; robust to their incomparable score scales.

    ``coverage_weight`` adds the share of the query's IDF mass a chunk contains: when every article of a
    regulation titled 问责条例 looks alike to the dense model, the one that also says 情形 should win.
    """

    name = "hybrid"

    def __init__(
        self,
        bm25: Bm25Retriever,
        vector: VectorRetriever,
        rrf_k: int = 60,
        depth: int = 30,
        dense_weight: float = 1.0,
        coverage_weight: float = 0.0,
    ) -> None:
        self.bm25, self.vector, self.rrf_k, self.depth = bm25, vector, rrf_k, depth
        self.weights = {"bm25": 1.0, "cosine": dense_weight}
        self.coverage_weight = coverage_weight

    def search(self, query: str, k: int) -> list[Hit]:
        depth = max(self.depth, k * 3)
        lists = {"bm25": self.bm25.ranked(query, depth), "cosine": self.vector.ranked(query, depth)}
        fused: dict[int, float] = {}
        parts: dict[int, dict[str, float]] = {}
        for name, ranking in lists.items():
            for rank, (idx, score) in enumerate(ranking):
                fused[idx] = fused.get(idx, 0.0) + self.weights[name] / (self.rrf_k + rank + 1)
                parts.setdefault(idx, {})[name] = score
        reader = self.bm25.reader
        if self.coverage_weight:
            for idx in fused:
                parts[idx]["coverage"] = reader.coverage(query, idx)  # reused by hit(), not computed twice
                fused[idx] += self.coverage_weight * parts[idx]["coverage"]
        order = sorted(fused, key=lambda i: -fused[i])[:k]
        return [reader.hit(i, fused[i], n + 1, query, **parts[i]) for n, i in enumerate(order)]


def make_retriever(
    mode: str,
    reader: IndexReader,
    embedder: Embedder | None,
    rrf_k: int = 60,
    dense_weight: float = 1.0,
    coverage_weight: float = 0.0,
):
    if mode == "bm25":
        return Bm25Retriever(reader)
    if embedder is None:
        raise AssistantError(f"retrieval mode {mode} needs an embedder", "set ASSISTANT_EMBEDDER or use --mode bm25")
    if mode == "vector":
        return VectorRetriever(reader, embedder)
    if mode == "hybrid":
        return HybridRetriever(
            Bm25Retriever(reader),
            VectorRetriever(reader, embedder),
            rrf_k=rrf_k,
            dense_weight=dense_weight,
            coverage_weight=coverage_weight,
        )
    raise AssistantError(f"unknown retrieval mode {mode!r}", "use bm25, vector or hybrid")


def relevance(hits: Sequence[Hit]) -> float:
    """Best query coverage among the hits (0..1)."""
    return max((dict(h.scores).get("coverage", 0.0) for h in hits), default=0.0)
