"""OCR quality and speed on scans made here: corpus pages rendered to images and degraded at a few noise levels.

    python benchmarks/bench_ocr.py                                  # 6 pages x clean, light, noisy, rough, poor
    python benchmarks/bench_ocr.py --pages 3 --levels clean,noisy --verbose

Pages are drawn by tests/scans.py from regulations of the shared corpus (A4 at 150 dpi, 14 pt Noto Sans CJK, the
layout of an official document), spread over the documents with a fixed seed; each level then skews a page by up
to its maximum angle, shades, blurs, adds noise and passes it through JPEG (see scans.LEVELS). For every page and
level the page is OCR'd by assistant/ingest/ocr.py, and compared with the text drawn on it:

- character accuracy: 1 - edit distance / characters, whitespace removed from both;
- 第N条 markers: those that begin a paragraph on the page, against those that begin an OCR'd paragraph
  (found = in order, spurious = OCR'd paragraph starts that are no article start on the page);
- confidence: ocr.py's per-page figure (recognition score weighted by characters); flagged = pages below
  ocr.LOW_CONFIDENCE, which `kb list` names for checking;
- seconds per page, model loading excluded (one warm-up page first). The cores may be shared with other work.

Prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import difflib
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from scans import LEVELS, char_accuracy, corpus_blocks, degrade, find_cjk_font, render_pages  # noqa: E402

from assistant.ingest import ocr  # noqa: E402

CORPUS = Path(os.environ.get("ASSISTANT_TEST_CORPUS", ROOT.parent / "shared" / "corpus"))
DOCS = [
    "regulations/党委（党组）落实全面从严治党主体责任规定(2020).md",
    "regulations/中国共产党纪律处分条例(2023).md",
    "regulations/中国共产党纪律检查机关监督执纪工作规则(2019).md",
    "regulations/中国共产党问责条例(2016).md",
]
OCR_ARTICLE = re.compile(r"^第[零〇一二三四五六七八九十百千两\d]+条", re.M)


def pick_pages(n: int, seed: int, dpi: int):
    font = find_cjk_font()
    if font is None:
        sys.exit("no font with Chinese glyphs: apt-get install fonts-noto-cjk")
    pages = []
    for rel in DOCS:
        path = CORPUS / rel
        if path.is_file():
            pages.extend((Path(rel).stem, i + 1, p) for i, p in enumerate(render_pages(corpus_blocks(path), font, dpi=dpi)))
    if not pages:
        sys.exit(f"corpus not found at {CORPUS} (set ASSISTANT_TEST_CORPUS or check out ../shared)")
    rng = random.Random(seed)
    first = [p for p in pages if p[1] == 1][:1]  # the first page of the first document: title, 题注, 第一章
    rest = [p for p in pages if p not in first]
    return first + rng.sample(rest, min(max(0, n - 1), len(rest)))


def article_figures(truth: list[str], text: str) -> tuple[int, int]:
    got = OCR_ARTICLE.findall(text)
    found = sum(b.size for b in difflib.SequenceMatcher(a=truth, b=got, autojunk=False).get_matching_blocks())
    return found, len(got) - found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=6)
    ap.add_argument("--levels", default=",".join(LEVELS))
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--verbose", action="store_true", help="one row per page as well")
    args = ap.parse_args()
    levels = [lv.strip() for lv in args.levels.split(",") if lv.strip()]
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown:
        sys.exit(f"unknown level(s) {unknown}; choose from {', '.join(LEVELS)}")

    pages = pick_pages(args.pages, args.seed, args.dpi)
    t = time.perf_counter()
    ocr.engine()
    load_s = time.perf_counter() - t
    ocr.ocr_image(pages[0][2].image)  # warm-up
    print(f"{len(pages)} pages at {args.dpi} dpi from {CORPUS}; engine built in {load_s:.2f}s; {os.cpu_count()} cores")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.verbose:
        print(
            f"\n{'level':6} {'page':34} {'chars':>5} {'acc':>6} {'conf':>6} {'art':>5} {'sp':>3} {'turn':>4} {'skew':>5} {'s':>5}"
        )
    rows = []
    for level in levels:
        accs, confs, secs = [], [], []
        found = total = spurious = 0
        for k, (doc, no, page) in enumerate(pages):
            img = degrade(page.image, level, seed=args.seed * 1000 + k) if level != "clean" else page.image
            res = ocr.ocr_image(img)
            acc = char_accuracy(res.text, page.text)
            f, s = article_figures(page.articles, res.text)
            accs.append(acc)
            confs.append(res.confidence)
            secs.append(res.seconds)
            found, total, spurious = found + f, total + len(page.articles), spurious + s
            if args.verbose:
                name, chars = f"{doc[:26]} p{no}", len(re.sub(r"\s", "", page.text))
                print(
                    f"{level:6} {name:34} {chars:5d} {acc:6.4f} {res.confidence:6.4f} "
                    f"{f:2d}/{len(page.articles):<2d} {s:3d} {res.angle:4d} {res.skew:5.2f} {res.seconds:5.2f}",
                    flush=True,
                )
        rows.append((level, accs, confs, secs, found, total, spurious))

    print(
        f"\n{'level':6} {'pages':>5} {'acc mean':>8} {'acc min':>8} {'conf mean':>9} {'conf min':>8} {'flagged':>7} "
        f"{'第N条 found':>11} {'spurious':>8} {'s/page':>7} {'s max':>6}"
    )
    for level, accs, confs, secs, found, total, spurious in rows:
        flagged = sum(c < ocr.LOW_CONFIDENCE for c in confs)
        print(
            f"{level:6} {len(accs):5d} {statistics.mean(accs):8.4f} {min(accs):8.4f} "
            f"{statistics.mean(confs):9.4f} {min(confs):8.4f} {flagged:7d} "
            f"{f'{found}/{total}':>11} {spurious:8d} {statistics.mean(secs):7.2f} {max(secs):6.2f}"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "levels: "
        + "; ".join(f"{k}: skew ±{v[0]}°, noise σ {v[1]}, blur {v[2]}, JPEG q{v[3]}, scale {v[4]}" for k, v in LEVELS.items())
    )


if __name__ == "__main__":
    main()
