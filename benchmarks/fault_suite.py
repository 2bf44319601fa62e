"""Try every fault of issue 14 against a live index (hash embedder) and print the table.

    python benchmarks/fault_suite.py [--quick] [--work DIR]

Full size: ≥200 bad files (with a 10 MB single line, 20,000-row tables, HTML nested 50,000 deep), kill -9 at 20
random points of a rebuild, a full tmpfs, two ingests at once, questions during rebuilds and every damaged index
file (chroma, each bm25 file, chunks, manifest × truncate/flip/delete). For each fault: inputs tried, handled
cleanly (one line naming the file and the fix, or accepted as a document; exit code 2 for a refused command),
index intact (checks after which the baseline questions got the same outcome and citations, in BM25 mode; where
bad files were accepted as documents, the same outcome and first citation) and data lost (baseline documents that
lost chunks; target 0). Exit code 1 if anything was not handled cleanly.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "faults")]
for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "ASSISTANT_CONFIG": ""}.items():
    os.environ.setdefault(key, value)

import faultlib  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the sizes of tests/faults (about a minute)")
    ap.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed afterwards)")
    ap.add_argument("--kills", type=int, default=20)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="fault-suite-"))
    sizes = dict(big=64 * 1024, rows=300, depth=5000, kills=3) if args.quick else dict(big=10 * 2**20, rows=20000, depth=50000, kills=args.kills)
    t0 = time.perf_counter()
    try:
        rows = faultlib.run_all(work, **sizes, damage_cases=None, progress=lambda s: print(f"  {s}", file=sys.stderr, flush=True))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(faultlib.table(rows))
    print(f"\n{time.perf_counter() - t0:.0f} s; sizes: {sizes}")
    bad = [r for r in rows if r.problems or (not r.skipped and (r.clean != r.tried or r.intact != r.checks or r.lost))]
    for r in bad:
        for p in r.problems[:10]:
            print(f"- {r.fault}: {p}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
