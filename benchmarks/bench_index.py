"""Ingest throughput, query latency per retrieval mode, and index size.

    python benchmarks/bench_index.py                      # shared corpus (m3e-small) + synthetic 100k chunks
    python benchmarks/bench_index.py --synthetic 20000 --skip-corpus

Prints figures; nothing here is asserted. The synthetic corpus is built from sentences of the real corpus
(or the sample knowledge) recombined into articles, and embedded with 512-d seeded random vectors so that chroma
holds vectors of m3e-small's size; the real model's query-encoding time is measured and reported separately.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

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


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


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


def report(name: str, rep, seconds: float, kb: Path, lat: dict) -> dict:
    size = dir_size(kb)
    print(f"\n== {name}")
    print(f"chunks            {rep.chunks}")
    print(f"ingest            {seconds:.1f} s  ({rep.chunks / max(seconds, 1e-9):.1f} chunks/s)")
    print(f"index size        {size / 2**20:.1f} MiB")
    for mode, (p50, p95) in lat.items():
        print(f"query {mode:<7}     p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    return {"name": name, "chunks": rep.chunks, "chunks_per_s": rep.chunks / max(seconds, 1e-9), "mib": size / 2**20, "lat": lat}


def bench_corpus(corpus: Path, embedder_name: str, work: Path, rounds: int) -> dict:
    embedder = make_embedder(embedder_name)
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
    """512-d unit vectors seeded by the text's hash: as cheap as possible, so the figures measure the index."""

    name = "seeded-512"
    dim = 512

    def _vec(self, text: str) -> list[float]:
        import hashlib

        import numpy as np

        seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(self.dim)
        return (v / np.linalg.norm(v)).tolist()

    def embed_documents(self, texts):
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str):
        return self._vec(text)


def bench_synthetic(n: int, source: Path, work: Path, rounds: int, query_embedder) -> dict:
    kdir = work / "synthetic-src"
    synthetic_corpus(n, source, kdir)
    kb = work / "synthetic"
    embedder = SeededEmbedder()
    t = time.perf_counter()
    rep = ingest([Source(kdir)], kb, embedder, show_bar=True)
    seconds = time.perf_counter() - t
    reader = IndexReader(kb)
    res = report(f"synthetic {rep.chunks} chunks, 512-d seeded vectors", rep, seconds, kb, latency(reader, embedder, ["bm25", "vector", "hybrid"], rounds))
    if query_embedder is not None:
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
    ap.add_argument("--synthetic", type=int, default=100_000, help="synthetic chunk count (0 to skip)")
    ap.add_argument("--skip-corpus", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--plot", type=Path, help="save a latency bar chart (PNG)")
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temp folder, removed)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    source = args.corpus if (args.corpus / "MANIFEST.md").is_file() else ROOT / "knowledge"
    results = []
    try:
        query_embedder = None
        if not args.skip_corpus and (args.corpus / "MANIFEST.md").is_file():
            results.append(bench_corpus(args.corpus, args.embedder, work, args.rounds))
        if args.synthetic:
            query_embedder = make_embedder(args.embedder) if args.embedder != "hash" else None
            results.append(bench_synthetic(args.synthetic, source, work, args.rounds, query_embedder))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
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
