"""Test scans made here: corpus text rendered to page images with PIL, then degraded like a scanner or a phone.

Nothing is copied from the corpus into the repo: pages are drawn at test time from ../shared/corpus. A page is
an A4 sheet at `dpi` with the title centred, chapter headings centred, body paragraphs indented by two
characters and wrapped at the margin, and a page number at the foot, the way Chinese official documents are
printed. `degrade` adds what scanning does (a slight skew, sensor noise, blur, an uneven background, JPEG
artefacts), `make_scan_pdf` wraps page images into an image-only PDF (no text layer), and `char_accuracy`
compares OCR output with the text that was drawn.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

# (kind, text): kind is "title", "heading" (章/节, centred) or "p" (a paragraph, first line indented)
Block = tuple[str, str]

A4_INCHES = (8.27, 11.69)
ARTICLE_AT_START = re.compile(r"^第[一二三四五六七八九十百零〇两\d]+条")


def find_cjk_font() -> Path | None:
    """Noto Sans CJK (fonts-noto-cjk), else any installed font with Chinese glyphs, else None."""
    for p in (
        Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
        Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
        Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    ):
        if p.is_file():
            return p
    for p in sorted(Path("/usr/share/fonts").rglob("*CJK*")) if Path("/usr/share/fonts").is_dir() else []:
        if p.suffix.lower() in (".ttc", ".otf", ".ttf"):
            return p
    if shutil.which("fc-list"):
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            p = Path(line.split(":")[0].strip())
            if p.suffix.lower() in (".ttf", ".ttc", ".otf") and p.is_file():
                return p
    return None


def cjk_face(font_path: Path, px: int) -> ImageFont.FreeTypeFont:
    """The Simplified Chinese face of a font collection (Noto's .ttc opens on its Japanese face, whose 门, 内, 骨…
    are drawn the Japanese way), else its first face."""
    for index in range(8 if font_path.suffix.lower() == ".ttc" else 1):
        try:
            font = ImageFont.truetype(str(font_path), px, index=index)
        except OSError:
            break
        if font.getname()[0].endswith(" SC"):
            return font
    return ImageFont.truetype(str(font_path), px)


def corpus_blocks(md_path: Path, articles: int | None = None, start: int = 1, title: bool = True) -> list[Block]:
    """The title (unless title=False) and the blocks of a corpus regulation from its article `start` on, `articles`
    of them, with the chapter headings met on the way (and, from article 1, the 题注 and headings before it)."""
    blocks: list[Block] = []
    pending: list[Block] = []  # what stands between the previous article and the next one
    seen = 0
    for line in md_path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("# "):
            if title:
                blocks.append(("title", line[2:].strip()))
            continue
        block: Block = ("heading", line.lstrip("#").strip()) if line.startswith("#") else ("p", line)
        if ARTICLE_AT_START.match(line):
            seen += 1
            if articles is not None and seen >= start + articles:
                break
            if seen == start:
                blocks.extend(pending if start == 1 else [b for b in pending if b[0] == "heading"])
        if seen < start:
            pending = [*pending, block] if seen == 0 or block[0] == "heading" else []
            continue
        blocks.append(block)
    return blocks


@dataclass
class ScanPage:
    image: Image.Image
    lines: list[str]  # the visual lines drawn, top to bottom
    articles: list[str] = field(default_factory=list)  # '第N条' markers that begin a paragraph on this page

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float, first_indent: float) -> list[str]:
    """Break a paragraph into lines that fit `width` pixels; the first line starts `first_indent` further in.
    Closing punctuation is not left at the start of a line (it goes on the end of the line before)."""
    lines: list[str] = []
    cur = ""
    avail = width - first_indent
    for ch in text:
        if cur and font.getlength(cur + ch) > avail and ch not in "，。、；：？！）》”’":
            lines.append(cur)
            cur, avail = "", width
        cur += ch
    if cur:
        lines.append(cur)
    return lines


def render_pages(
    blocks: list[Block], font_path: Path, dpi: int = 150, pt: float = 14, page_numbers: bool = True
) -> list[ScanPage]:
    """Draw the blocks on as many A4 pages as they need (grey-scale, white paper, black type)."""
    w, h = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    px = round(pt * dpi / 72)
    body = cjk_face(font_path, px)
    big = cjk_face(font_path, round(px * 1.5))
    margin_x, margin_top, margin_bottom = round(0.9 * dpi), round(1.0 * dpi), round(1.0 * dpi)
    line_h = round(px * 1.75)
    text_w = w - 2 * margin_x
    pages: list[ScanPage] = []
    page: ScanPage | None = None
    draw: ImageDraw.ImageDraw | None = None
    y = 0

    def new_page() -> None:
        nonlocal page, draw, y
        if page is not None:
            finish(page)
        page = ScanPage(Image.new("L", (w, h), 255), [])
        draw = ImageDraw.Draw(page.image)
        y = margin_top
        pages.append(page)

    def finish(p: ScanPage) -> None:
        if page_numbers:
            label = f"- {len(pages)} -"
            d = ImageDraw.Draw(p.image)
            d.text(((w - body.getlength(label)) / 2, h - margin_bottom + px), label, font=body, fill=0)
            p.lines.append(label)

    new_page()
    for kind, text in blocks:
        font = big if kind == "title" else body
        step = round(line_h * 1.5) if kind == "title" else line_h
        indent = 2 * px if kind == "p" else 0
        lines = _wrap(text, font, text_w, indent)
        if kind != "p" and y + step * (len(lines) + 1) > h - margin_bottom:
            new_page()  # a heading does not end a page
        for i, line in enumerate(lines):
            if y + step > h - margin_bottom:
                new_page()
            if kind == "p":
                x = margin_x + (indent if i == 0 else 0)
            else:
                x = (w - font.getlength(line)) / 2
            draw.text((x, y), line, font=font, fill=0)
            page.lines.append(line)
            if i == 0 and kind == "p" and (m := ARTICLE_AT_START.match(line)):
                page.articles.append(m.group(0))
            y += step
        if kind in ("title", "heading"):
            y += px // 2
    finish(page)
    return pages


# name -> (max skew in degrees, noise sigma, blur radius, JPEG quality, scale, background shading, salt-and-pepper share)
LEVELS: dict[str, tuple[float, float, float, int, float, int, float]] = {
    "clean": (0.0, 0.0, 0.0, 95, 1.0, 0, 0.0),
    "light": (1.0, 8.0, 0.0, 75, 1.0, 10, 0.0),
    "noisy": (2.0, 20.0, 0.6, 45, 1.0, 25, 0.002),
    "rough": (2.0, 30.0, 0.9, 30, 0.75, 40, 0.004),
    "poor": (2.0, 35.0, 1.0, 25, 0.65, 50, 0.006),  # about where OCR's confidence falls below ocr.LOW_CONFIDENCE
}


def degrade(image: Image.Image, level: str = "noisy", seed: int = 0, angle: float | None = None) -> Image.Image:
    """A scanned-looking copy of a rendered page: skewed by up to ±max degrees (or by `angle`), shaded,
    blurred, noisy, optionally downscaled, and passed through JPEG at the level's quality."""
    import numpy as np

    skew, sigma, blur, quality, scale, shade, salt = LEVELS[level]
    rng = random.Random(seed)
    img = image.convert("L")
    if angle is None:
        angle = rng.uniform(-skew, skew) if skew else 0.0
    if angle:
        img = img.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=255)
    if scale != 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(img, dtype=np.float32)
    nrng = np.random.default_rng(seed)
    if shade:  # paper that is darker towards one corner, as under a lid that does not close
        yy, xx = np.mgrid[0 : arr.shape[0], 0 : arr.shape[1]]
        arr = arr - shade * (xx / arr.shape[1] + yy / arr.shape[0]) / 2
    if sigma:
        arr = arr + nrng.normal(0.0, sigma, arr.shape)
    if salt:
        mask = nrng.random(arr.shape)
        arr[mask < salt / 2] = 0
        arr[mask > 1 - salt / 2] = 255
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("L")


def make_scan_pdf(path: Path, images: list[Image.Image], dpi: int = 150) -> Path:
    """An image-only PDF, one JPEG image per page and no text layer, as a scanner writes."""
    first, *rest = [im.convert("L") for im in images]
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=float(dpi))
    return path


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, bit-parallel (Myers 1999 / Hyyrö 2003) on Python integers: fast for pages."""
    if not a:
        return len(b)
    if not b:
        return len(a)
    m = len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    top = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def char_accuracy(ocr: str, truth: str) -> float:
    """1 - edit distance / length of the truth, whitespace removed from both (can go below 0 for junk)."""
    a, b = squash(truth), squash(ocr)
    return 1.0 - edit_distance(a, b) / max(1, len(a))
