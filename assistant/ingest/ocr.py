"""OCR for scanned pages and images, offline, with the PP-OCRv4 models that ship inside `rapidocr-onnxruntime`.

One RapidOCR engine is built on first use and shared (a lock serialises calls: onnxruntime already spreads one
page over all cores). A page goes through text detection, the direction classifier and recognition; this module
then puts the recognised boxes back into reading order:

- the page orientation: when most text sits in tall boxes the page lies on its side (90° or 270°, told apart by
  the direction classifier), when most boxes read upside down it is turned 180°; box coordinates are turned back
  upright (the recognised text is already upright, as rapidocr turns each crop);
- a small skew (a page fed askew, a phone photo) is measured from the boxes' top edges and their coordinates are
  rotated level, so that the boxes of one line stay on one line;
- boxes are grouped into lines (top to bottom, left to right within a line), and lines into paragraphs: a new
  paragraph starts after a large vertical gap, at an indented or centred line, after a line that stops short of
  the right margin, and at every line that opens a structural unit (第N条, 第N章, 一、, （一）…), so that
  第N条 chunking works on the result. Lines within a paragraph join without a space (Latin words with one).

The confidence of a page is the recognition score of its boxes averaged with each box weighted by its number of
characters (boxes below the score floor count towards it but their text is dropped); 0.0 when nothing is found.
The text is not normalised here beyond that. Pages below LOW_CONFIDENCE are flagged to the user (`kb list`):
on the test scans (benchmarks/bench_ocr.py) the confidence tracks character accuracy closely, and a page under
0.90 has about one wrong character in ten or worse.

Progress: a loader that OCRs page after page calls `report_page(done, total)`; whoever runs it (the ingest
pipeline) listens with `with page_progress(callback):` — a context variable, so concurrent ingests in other
threads do not hear each other.

Cache: a page takes 3-5 s, and re-chunking (a new chunker, `--rebuild`) reads every file again. Within
`with ocr_cache(folder):` (the ingest pipeline names the folder) loaders keep a file's OCR'd pages in one JSON per
file content (sha256) and engine (`engine_version()`), written atomically; an unreadable entry is OCR'd again and
rewritten. `prune_cache` drops the entries of files no longer indexed (their text must not outlive them).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import io
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from assistant.text.structure import CN_NUM

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
MIN_SCORE = 0.5  # boxes recognised below this are dropped from the text (rapidocr's own default)
MAX_SIDE = 2000  # longer pages are scaled down to this first (rapidocr's default limit)
LOW_CONFIDENCE = 0.90  # pages below this are flagged: expect about one wrong character in ten or worse
LAYOUT_VERSION = 1  # bump when the reading-order code here changes a page's text: cached pages are then OCR'd again

_UNIT_START = re.compile(
    rf"^(?:第[{CN_NUM}\d]+[编章节条](?:之[{CN_NUM}]+)?|[{CN_NUM}]+、|[（(][{CN_NUM}\d]+[）)]|[{CN_NUM}]+是|\d+[.．、](?!\d)|附件|附则|附录)"
)
_UNIT_HEAD = re.compile(rf"^第[{CN_NUM}\d]+[编章节]")  # a short 章/节 heading is a paragraph of its own
_ENDS_SENTENCE = ("。", "：", ":", "；", ";", "！", "？", "”", "」", "）", ")")
# The recogniser drops the gap after a leading 第N条/第N章 (printed as a full-width space); it is put back as one space.
_MARKER_GAP = re.compile(rf"^(第[{CN_NUM}\d]+[编章节条](?:之[{CN_NUM}]+)?)(?=[^\s，。、；：:,.])")


@dataclass(frozen=True)
class OcrBox:
    text: str
    score: float
    x0: float
    y0: float
    x1: float
    y1: float  # upright, deskewed page coordinates in pixels of the image OCR saw

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass(frozen=True)
class OcrPage:
    text: str  # paragraphs separated by "\n"
    confidence: float  # 0..1: recognition score weighted by characters; 0.0 when no text was found
    seconds: float
    angle: int = 0  # the page's rotation that was undone: 0, 90, 180 or 270 (degrees clockwise as scanned)
    skew: float = 0.0  # the small skew measured, in degrees
    boxes: int = 0  # text boxes recognised

    @property
    def chars(self) -> int:
        return sum(1 for ch in self.text if not ch.isspace())


PageProgress = Callable[[int, int], None]
_progress: contextvars.ContextVar[PageProgress | None] = contextvars.ContextVar("ocr_page_progress", default=None)


@contextlib.contextmanager
def page_progress(callback: PageProgress) -> Iterator[None]:
    """Within the block, OCR loaders report each page done as callback(done, total)."""
    token = _progress.set(callback)
    try:
        yield
    finally:
        _progress.reset(token)


def report_page(done: int, total: int) -> None:
    callback = _progress.get()
    if callback is not None:
        callback(done, total)


_cache_dir: contextvars.ContextVar[Path | None] = contextvars.ContextVar("ocr_cache_dir", default=None)


@contextlib.contextmanager
def ocr_cache(folder: Path) -> Iterator[None]:
    """Within the block, OCR loaders keep each file's pages in ``folder`` and read them back instead of OCR."""
    token = _cache_dir.set(Path(folder))
    try:
        yield
    finally:
        _cache_dir.reset(token)


@functools.cache
def engine_version() -> str:
    """What a cached page was read with: the recogniser's package version and this module's layout and limits."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        engine_pkg = version("rapidocr-onnxruntime")
    except PackageNotFoundError:
        engine_pkg = "none"
    return f"rapidocr-onnxruntime {engine_pkg}; layout {LAYOUT_VERSION}; min_score {MIN_SCORE}; max_side {MAX_SIDE}"


def _engine_tag() -> str:
    return hashlib.sha256(engine_version().encode("utf-8")).hexdigest()[:12]


class PageCache:
    """One file's OCR'd pages (numbered from 1) in the cache folder of the surrounding ``ocr_cache``; without one,
    nothing is kept. ``get`` a page, ``put`` what OCR read, ``save`` at the end."""

    def __init__(self, data: bytes) -> None:
        folder = _cache_dir.get()
        self.path = folder / f"{hashlib.sha256(data).hexdigest()}-{_engine_tag()}.json" if folder is not None else None
        self.pages: dict[int, OcrPage] = _read_entry(self.path) if self.path is not None else {}
        self.changed = False

    def get(self, n: int) -> OcrPage | None:
        return self.pages.get(n)

    def put(self, n: int, page: OcrPage) -> None:
        self.pages[n] = page
        self.changed = True

    def save(self) -> None:
        """Write the entry atomically (a crash leaves the old one or none); a failed write only costs the next OCR."""
        if self.path is None or not self.changed:
            return
        data = {"engine": engine_version(), "pages": {str(n): dataclasses.asdict(p) for n, p in sorted(self.pages.items())}}
        tmp = ""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False)
            os.replace(tmp, self.path)
        except OSError as e:
            log.warning("OCR cache entry %s not written (%s)", self.path.name, e.strerror or type(e).__name__)
            with contextlib.suppress(OSError):
                if tmp:
                    os.unlink(tmp)
        else:
            self.changed = False


def _read_entry(path: Path) -> dict[int, OcrPage]:
    try:
        raw = json.loads(path.read_text("utf-8"))
        if raw["engine"] != engine_version():  # a clash of the short tag: not this engine's pages
            return {}
        return {
            int(n): OcrPage(str(p["text"]), float(p["confidence"]), float(p["seconds"]), int(p["angle"]), float(p["skew"]), int(p["boxes"]))
            for n, p in raw["pages"].items()
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:  # a damaged entry: OCR again, rewrite
        log.warning("OCR cache entry %s unreadable (%s); the file is OCR'd again", path.name, type(e).__name__)
        return {}


def prune_cache(folder: Path, keep: Collection[str]) -> int:
    """Delete the entries in ``folder`` but those of the files with a sha256 in ``keep`` read by this engine (and
    leftovers of interrupted writes); returns how many went."""
    wanted = {f"{digest}-{_engine_tag()}.json" for digest in keep}
    gone = 0
    for p in Path(folder).glob("*.json") if Path(folder).is_dir() else ():
        if p.name not in wanted:
            with contextlib.suppress(OSError):
                p.unlink()
                gone += 1
    return gone


_engine: Any = None
_engine_lock = threading.Lock()  # building the engine
_run_lock = threading.Lock()  # one page at a time: each run already uses every core


class OcrUnavailable(RuntimeError):
    """The OCR engine cannot be built: rapidocr-onnxruntime or its models missing, or onnxruntime failing."""


def engine() -> Any:
    """The shared RapidOCR engine, built on first use from the models inside the package (no download).
    Raises OcrUnavailable when it cannot be built."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                import logging

                try:
                    from rapidocr_onnxruntime import RapidOCR

                    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
                    with _no_spinning():
                        _engine = RapidOCR()
                except Exception as e:  # ImportError, a missing model file, onnxruntime's own exception types
                    raise OcrUnavailable(f"{type(e).__name__}: {str(e)[:120]}") from e
    return _engine


@contextlib.contextmanager
def _no_spinning() -> Iterator[None]:
    """onnxruntime's worker threads spin while they wait for work; on a machine whose cores are busy with other
    work that makes recognition 2-3 times slower (measured on 2 shared cores), and it takes cores from the others.
    The sessions rapidocr builds meanwhile get spinning turned off; nothing changes where its internals differ."""
    try:
        from rapidocr_onnxruntime.utils import infer_engine

        orig = infer_engine.OrtInferSession._init_sess_opts
    except (ImportError, AttributeError):
        yield
        return

    def options(config: dict) -> Any:
        opts = orig(config)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    infer_engine.OrtInferSession._init_sess_opts = staticmethod(options)
    try:
        yield
    finally:
        infer_engine.OrtInferSession._init_sess_opts = staticmethod(orig)


def _as_pil(image: Image.Image | np.ndarray | bytes | str | Path) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return Image.fromarray(image)
    if isinstance(image, bytes):
        return Image.open(io.BytesIO(image))
    return Image.open(image)


def _prepare(image: Image.Image) -> tuple[np.ndarray, float]:
    """RGB image as a BGR array (what the models were trained on), scaled so the longer side is at most
    MAX_SIDE; the camera's EXIF orientation is applied and transparency laid on white paper."""
    img = ImageOps.exif_transpose(image) or image
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        span = max(1.0, float(arr.max() - arr.min()))
        img = Image.fromarray(((arr - arr.min()) * 255.0 / span).astype(np.uint8), "L")
    img = img.convert("RGB")
    scale = 1.0
    if max(img.size) > MAX_SIDE:
        scale = MAX_SIDE / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)
    # A single line or a thin strip: white paper below it, as the detector wants some height (rapidocr pads so).
    need_h = max(32, img.width // 8 * 2) if img.height <= 30 or img.width > 8 * img.height else img.height
    if need_h > img.height or img.width < 32:
        pad = Image.new("RGB", (max(32, img.width), need_h), (255, 255, 255))
        pad.paste(img, (0, 0))
        img = pad
    return np.ascontiguousarray(np.asarray(img)[:, :, ::-1]), scale


def _orientation(boxes: list[np.ndarray], cls_res: list) -> int:
    """0, 90, 180 or 270: how far clockwise the page content is turned, from the text boxes' shape and the
    direction classifier, each box weighted by its length (square-ish boxes do not count)."""
    eng = engine()
    tall = wide = tall_flipped = wide_flipped = 0.0
    for pts, cls in zip(boxes, cls_res):
        w = float(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
        h = float(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
        if max(w, h) < 2 * min(w, h):
            continue
        flipped = str(cls[0]) == "180" and float(cls[1]) > eng.text_cls.cls_thresh
        if h > w:
            tall += h
            tall_flipped += h * flipped
        else:
            wide += w
            wide_flipped += w * flipped
    if tall > wide:
        # rapidocr turns a tall crop 90° anticlockwise: upright for a page turned clockwise, upside down
        # (and then flipped by the classifier) for a page turned anticlockwise.
        return 270 if tall_flipped > tall / 2 else 90
    return 180 if wide and wide_flipped > wide / 2 else 0


def _run_models(bgr: np.ndarray) -> tuple[list[tuple[np.ndarray, str, float]], int, int, int]:
    """(box points 4x2, text, score) for every box found, the page's turn (degrees clockwise) and the width and
    height of the image the box points refer to.

    The direction classifier only decides the page's orientation, by majority; every line is then read the
    same way round (the classifier alone turns a few upright lines upside down, with high confidence, and they
    then read as nothing). A page on its side is turned upright and detected again, so that its lines are cut
    as on an upright page; an upside-down page keeps the coordinates of the image as given and its line crops
    are turned. A line that still reads below the score floor gets a second try turned round."""
    eng = engine()
    with _run_lock:
        boxes, _ = eng.text_det(bgr)
        if boxes is None or len(boxes) == 0:
            return [], 0, bgr.shape[1], bgr.shape[0]
        boxes = list(boxes)
        crops = eng.get_crop_img_list(bgr, boxes)
        _, cls_res, _ = eng.text_cls(crops)
        turn = _orientation(boxes, cls_res)
        if turn in (90, 270):
            bgr = np.ascontiguousarray(np.rot90(bgr, k=1 if turn == 90 else -1))  # k=1: anticlockwise
            boxes, _ = eng.text_det(bgr)
            if boxes is None or len(boxes) == 0:
                return [], turn, bgr.shape[1], bgr.shape[0]
            boxes = list(boxes)
            crops = eng.get_crop_img_list(bgr, boxes)
        elif turn == 180:
            crops = [np.ascontiguousarray(np.rot90(c, 2)) for c in crops]
        rec = [(str(r[0]), float(r[1])) for r in eng.text_rec(crops, False)[0]]
        poor = [i for i, (_t, score) in enumerate(rec) if score < MIN_SCORE]
        if poor:
            again = eng.text_rec([np.ascontiguousarray(np.rot90(crops[i], 2)) for i in poor], False)[0]
            for i, r in zip(poor, again):
                if float(r[1]) > rec[i][1]:
                    rec[i] = (str(r[0]), float(r[1]))
    out = [(np.asarray(box, dtype=np.float64), text, score) for box, (text, score) in zip(boxes, rec)]
    return out, turn, bgr.shape[1], bgr.shape[0]


def _turn_upright(pts: np.ndarray, angle: int, w: int, h: int) -> np.ndarray:
    """Box points on an upside-down page -> points on the page set upright."""
    if angle == 180:
        return np.stack([w - pts[:, 0], h - pts[:, 1]], axis=1)
    return pts


def _skew(boxes: list[tuple[np.ndarray, str]]) -> float:
    """The page's skew in degrees (positive: lines fall to the right), the median slope of the top edges of
    long boxes weighted by length; 0 when there are none."""
    slopes: list[tuple[float, float]] = []
    for pts, _text in boxes:
        # The top edge is the longer of the two near-horizontal edges' average; points come as a quadrilateral
        # whose order may start at any corner after turning, so take the edge pair that is most horizontal.
        edges = [(pts[i], pts[(i + 1) % 4]) for i in range(4)]
        best = max(edges, key=lambda e: abs(e[1][0] - e[0][0]) - abs(e[1][1] - e[0][1]))
        dx, dy = best[1][0] - best[0][0], best[1][1] - best[0][1]
        length = math.hypot(dx, dy)
        height = min(math.hypot(*(e[1] - e[0])) for e in edges)
        if length < 4 * max(height, 1.0):
            continue
        if dx < 0:
            dx, dy = -dx, -dy
        slopes.append((math.degrees(math.atan2(dy, dx)), length))
    if not slopes:
        return 0.0
    slopes.sort()
    half, acc = sum(length for _a, length in slopes) / 2, 0.0
    for a, length in slopes:
        acc += length
        if acc >= half:
            return a if abs(a) <= 15 else 0.0
    return 0.0


def _level(pts: np.ndarray, degrees: float, cx: float, cy: float) -> np.ndarray:
    if not degrees:
        return pts
    t = math.radians(-degrees)
    c, s = math.cos(t), math.sin(t)
    x, y = pts[:, 0] - cx, pts[:, 1] - cy
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


def _lines(boxes: list[OcrBox]) -> list[list[OcrBox]]:
    """Boxes grouped into visual lines, top to bottom; each line left to right."""
    lines: list[list[OcrBox]] = []
    for b in sorted(boxes, key=lambda b: (b.cy, b.x0)):
        placed = False
        for line in reversed(lines[-3:]):
            top, bottom = min(x.y0 for x in line), max(x.y1 for x in line)
            overlap = min(bottom, b.y1) - max(top, b.y0)
            if overlap > 0.5 * min(b.height, bottom - top):
                line.append(b)
                placed = True
                break
        if not placed:
            lines.append([b])
    return [sorted(line, key=lambda b: b.x0) for line in lines]


def _join(a: str, b: str) -> str:
    if not a:
        return b
    if not b:
        return a
    return a + (" " if a[-1].isascii() and a[-1].isalnum() and b[0].isascii() and b[0].isalnum() else "") + b


def _line_text(line: list[OcrBox]) -> str:
    """The boxes of a line, left to right; a wide gap between two boxes becomes one space."""
    out = ""
    for prev, b in zip([None, *line], line):
        text = b.text.strip()
        if prev is not None and out and b.x0 - prev.x1 > 0.8 * max(b.height, prev.height):
            out = f"{out} {text}"
        else:
            out = _join(out, text)
    return out.strip()


def _paragraphs(lines: list[list[OcrBox]]) -> list[str]:
    if not lines:
        return []
    info = []
    for line in lines:
        info.append(
            (
                _line_text(line),
                min(b.x0 for b in line),
                max(b.x1 for b in line),
                min(b.y0 for b in line),
                max(b.y1 for b in line),
            )
        )
    heights = sorted(y1 - y0 for _t, _a, _b, y0, y1 in info)
    h = heights[len(heights) // 2] or 1.0
    pitches = sorted(info[i + 1][3] - info[i][3] for i in range(len(info) - 1))
    pitch = pitches[len(pitches) // 2] if pitches else 2 * h
    # The text block's margins: where most long lines start and end.
    long = [i for i in info if len(i[0]) >= 8] or info
    lefts, rights = sorted(i[1] for i in long), sorted(i[2] for i in long)
    left = lefts[len(lefts) // 5]
    right = rights[len(rights) * 4 // 5]
    width = max(right - left, h)

    paras: list[str] = []
    prev = None
    for text, x0, x1, y0, _y1 in info:
        if not text:
            continue
        indented = x0 - left > 1.2 * h
        centred = indented and right - x1 > 1.2 * h and abs((x0 - left) - (right - x1)) < max(2 * h, 0.1 * width)
        new = (
            prev is None
            or indented
            or y0 - prev[3] > max(1.6 * pitch, pitch + h)  # a blank line's gap
            or prev[4]  # the previous line was centred (a title or heading)
            or right - prev[2] > 1.5 * h  # the previous line stopped short of the margin
            or (_UNIT_HEAD.match(paras[-1]) is not None and len(paras[-1]) <= 30)
            # 第N条, 一、, （一）… open a unit, unless the line merely continues a full line that ends mid-sentence
            # (a cross-reference such as '依照本条例第二十七条' wrapped onto a new line).
            or (_UNIT_START.match(text) is not None and prev[0].endswith(_ENDS_SENTENCE))
        )
        if new:
            paras.append(text)
        else:
            paras[-1] = _join(paras[-1], text)
        prev = (text, x0, x1, y0, centred)
    return [_MARKER_GAP.sub(r"\1 ", p) for p in paras]


def ocr_image(image: Image.Image | np.ndarray | bytes | str | Path) -> OcrPage:
    """OCR one page image (a PIL image, an RGB or grey array, encoded bytes or a path). The seconds do not
    include building the engine on first use."""
    engine()
    start = time.perf_counter()
    pil = _as_pil(image)
    bgr, _scale = _prepare(pil)
    raw, angle, w, h = _run_models(bgr)
    upright = [(_turn_upright(pts, angle, w, h), text, score) for pts, text, score in raw]
    skew = _skew([(pts, text) for pts, text, score in upright if score >= MIN_SCORE])
    weighted = chars = 0.0
    boxes: list[OcrBox] = []
    for pts, text, score in upright:
        text = text.strip()
        n = len(re.sub(r"\s+", "", text))
        if not n:
            continue
        weighted += score * n
        chars += n
        if score < MIN_SCORE:
            continue
        lv = _level(pts, skew, w / 2, h / 2)
        boxes.append(
            OcrBox(text, score, float(lv[:, 0].min()), float(lv[:, 1].min()), float(lv[:, 0].max()), float(lv[:, 1].max()))
        )
    paras = _paragraphs(_lines(boxes))
    conf = weighted / chars if chars else 0.0
    return OcrPage(
        "\n".join(paras), round(conf, 4) if paras else 0.0, time.perf_counter() - start, angle, round(skew, 2), len(boxes)
    )


def image_frames(image: Image.Image | bytes | str | Path) -> Iterator[Image.Image]:
    """Every page of an image file (a multi-page TIFF has several; other formats one)."""
    pil = _as_pil(image)
    n = getattr(pil, "n_frames", 1) or 1
    for i in range(n):
        if n > 1:
            pil.seek(i)
        yield pil.copy() if n > 1 else pil


def page_image_count(page: Any) -> int:
    """How many images a pypdf page holds (without decoding them)."""
    try:
        return len(page.images)
    except Exception:
        return 0


def page_image(page: Any) -> Image.Image | None:
    """The image that makes up a scanned PDF page (a pypdf page): the largest embedded image by area, or
    None when the page has none or none that can be decoded."""
    best: Image.Image | None = None
    try:
        images = list(page.images)
    except Exception:  # an unsupported filter or a broken image stream: nothing to OCR
        return None
    for img in images:
        try:
            pil = img.image
            if pil is not None:
                pil.load()  # decode now: a broken or unsupported stream counts as no image
        except Exception:
            continue
        if pil is not None and (best is None or pil.width * pil.height > best.width * best.height):
            best = pil
    return best


def ocr_pdf_page(page: Any) -> OcrPage | None:
    """OCR a pypdf page from its embedded image; None when the page holds no image."""
    pil = page_image(page)
    if pil is None:
        return None
    return ocr_image(pil)
