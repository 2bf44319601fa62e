"""The fault suite: bad files, kill -9, a full disk, two ingests, queries during an ingest and damaged index files,
each tried against a live index built with the hash embedder.

Every fault is judged the same way: the user sees one line naming the file or folder and the fix (exit code 2 for
a refused command), the live index still answers the baseline questions with the same citations, and no baseline
document lost a chunk. ``tests/faults/`` runs it small; ``benchmarks/fault_suite.py`` runs it full size and prints
the table.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from filemakers import encrypt_office, encrypt_pdf, make_docx, make_pdf, make_xlsx  # noqa: E402

from assistant.core.errors import one_line  # noqa: E402

REGULATION = """# 党委（党组）落实全面从严治党主体责任规定

## 第一章 总则

第一条 为了压实党委（党组）全面从严治党主体责任，制定本规定。

## 第二章 责任内容

第二条 党委（党组）领导班子其他成员应当履行“一岗双责”，既要抓好分管业务工作，又要抓好分管领域的全面从严治党工作。

第三条 党委（党组）书记是本地区本单位全面从严治党第一责任人。

第四条 纪检监察机关履行监督责任，协助党委推进全面从严治党。
"""
CONDUCT = "# 作风建设规定\n\n第一条 严格执行中央八项规定精神，坚决反对形式主义、官僚主义。\n\n第二条 领导干部应当带头改进调查研究。\n\n第三条 本规定自印发之日起施行。\n"
QUESTIONS = ("领导班子其他成员应当履行什么？", "谁是全面从严治党第一责任人？", "纪检监察机关履行什么责任？", "中央八项规定精神", "工作报告中的主要做法")
CJK = re.compile(r"[\u4e00-\u9fff]")
RUN_CLI = "import sys; from assistant.faces.cli.main import main; sys.exit(main(sys.argv[1:]))"


# ------------------------------------------------------------ results


@dataclass
class Row:
    """One line of the table: a kind of fault, how often it was tried and how it went."""

    fault: str
    tried: int = 0
    clean: int = 0  # one-line message naming the file with a fix, or accepted as a document; never a traceback
    intact: int = 0  # checks after which the live index answered the baseline questions with the same citations
    checks: int = 0
    lost: int = 0  # baseline documents that lost chunks
    chinese: int = 0  # messages in Chinese
    messages: int = 0
    exit_codes: Counter = field(default_factory=Counter)
    example: str = ""
    problems: list[str] = field(default_factory=list)
    skipped: str = ""
    group: str = ""  # rows judged by one shared index check: counted once in the totals

    def note_message(self, msg: str) -> None:
        self.messages += 1
        self.chinese += bool(CJK.search(_message_body(msg)))
        if not self.example or (CJK.search(_message_body(msg)) and not CJK.search(_message_body(self.example))):
            self.example = msg


def _message_body(msg: str) -> str:
    """The message without the file name it starts with (a Chinese file name does not make a message Chinese)."""
    _head, sep, rest = msg.partition(": ")
    return rest if sep else msg


# ------------------------------------------------------------ the live index


@dataclass
class Env:
    """A knowledge folder and an index for one fault, and how to ask it things."""

    root: Path
    kdir: Path
    index: Path
    kb: str = "default"

    @property
    def kb_dir(self) -> Path:
        return self.index / self.kb

    def settings(self):
        from assistant.core.settings import Settings

        return Settings(knowledge_dir=self.kdir, index_dir=self.index, kb=self.kb, embedder="hash", mode="hybrid", answerer="extractive")

    def service(self):
        from assistant.app.compose import build

        return build(self.settings())

    def env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        return {
            **clean,
            "PYTHONPATH": str(ROOT),
            "ASSISTANT_CONFIG": "",
            "ASSISTANT_EMBEDDER": "hash",
            "ASSISTANT_KNOWLEDGE_DIR": str(self.kdir),
            "ASSISTANT_INDEX_DIR": str(self.index),
            "ASSISTANT_KB": self.kb,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }

    def cli(self, *args: str, timeout: float = 300, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, sys.executable, "-c", RUN_CLI, *args], env=self.env(), capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", RUN_CLI, *args], env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)

    def copy(self, name: str) -> Env:
        """A copy of this knowledge folder and index under a new path (chroma caches clients per path)."""
        root = self.root.parent / name
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        shutil.copytree(self.kdir, root / "knowledge", symlinks=True)
        shutil.copytree(self.index, root / "index", symlinks=True)
        return Env(root, root / "knowledge", root / "index", self.kb)


Snapshot = dict[str, tuple[str, tuple[tuple[str, str], ...]]]


# Answers are compared in BM25 mode: with the hash embedder many vectors tie, and a rebuilt HNSW graph may order
# ties differently, which can add or drop a second citation without anything being damaged. The vectors themselves
# are checked by check_generation (chroma opens and holds one vector per chunk).
MODE = "bm25"


def snapshot(env: Env) -> Snapshot:
    """Each baseline question's outcome and citations (label, quote), from a fresh service on the live index."""
    svc = env.service()
    out = {}
    for q in QUESTIONS:
        a = svc.ask(q, mode=MODE)
        out[q] = (a.outcome, tuple((c.label, c.quote) for c in a.citations))
    return out


def baseline_chunks(env: Env) -> dict[str, set[str]]:
    from assistant.index.store import current_generation, read_chunks

    chunks, _ = read_chunks(current_generation(env.kb_dir))
    out: dict[str, set[str]] = {}
    for c in chunks:
        out.setdefault(c.source, set()).add(c.id)
    return out


def lost_documents(env: Env, base: dict[str, set[str]]) -> list[str]:
    """Baseline documents some of whose chunks are no longer in the live index."""
    from assistant.index.store import current_generation, read_chunks

    gen = current_generation(env.kb_dir)
    if gen is None:
        return sorted(base)
    try:
        chunks, _ = read_chunks(gen)
    except (OSError, ValueError):
        return sorted(base)
    have = {c.id for c in chunks}
    return sorted(src for src, ids in base.items() if not ids <= have)


def make_baseline(root: Path) -> Env:
    """Two regulations and a Word report, ingested: the index every fault is tried against."""
    root.mkdir(parents=True, exist_ok=True)
    env = Env(root, root / "knowledge", root / "index")
    env.kdir.mkdir(exist_ok=True)
    (env.kdir / "主体责任规定.md").write_text(REGULATION, "utf-8")
    (env.kdir / "作风建设规定.md").write_text(CONDUCT, "utf-8")
    make_docx(env.kdir / "年度工作报告.docx", [("title", "2024年度工作报告"), ("h1", "一、主要做法"), ("p", "党委专题研究党风廉政建设，开展廉政谈话。")])
    report = env.service().ingest(show_bar=False)
    assert [f.status for f in report.files] == ["added"] * 3, report.files
    return env


@dataclass
class Baseline:
    env: Env
    answers: Snapshot
    chunks: dict[str, set[str]]

    def check(self, env: Env, row: Row, what: str, grown: bool = False) -> None:
        """Count one check of the live index: same answers and citations, no baseline chunk lost.

        ``grown``: documents were accepted into the index beside the baseline (a table of 20,000 rows, 第99999条),
        which shifts BM25's IDF; then each answer must keep its outcome and its first citation (the supporting
        citations after it may change with the new term weights)."""
        row.checks += 1
        try:
            now = snapshot(env)
        except Exception as e:  # noqa: BLE001 - a broken index is a finding, recorded in the table
            row.problems.append(f"{what}: the live index cannot answer ({type(e).__name__}: {e})")
            now = None
        if now == self.answers or (grown and now is not None and all(covers(now[q], a) for q, a in self.answers.items())):
            row.intact += 1
        elif now is not None:
            diff = {q: now[q] for q in QUESTIONS if now[q] != self.answers[q]}
            row.problems.append(f"{what}: answers changed: {diff}")
        lost = lost_documents(env, self.chunks)
        row.lost += len(lost)
        if lost:
            row.problems.append(f"{what}: lost {lost}")


def covers(now: tuple, base: tuple) -> bool:
    """Same outcome and the same first citation (article and quote); supporting citations after it may differ."""
    return now[0] == base[0] and now[1][:1] == base[1][:1]


def baseline(root: Path) -> Baseline:
    env = make_baseline(root)
    return Baseline(env, snapshot(env), baseline_chunks(env))


def last_line(stderr: str) -> str:
    """The last line the terminal shows (progress bars rewrite their line with \r)."""
    lines = [seg for line in stderr.splitlines() for seg in line.split("\r") if seg.strip()]
    return lines[-1].strip() if lines else ""


def one_line_with_fix(msg: str, name: str = "") -> bool:
    msg = msg.strip()
    return bool(msg) and "\n" not in msg and " — " in msg and "Traceback" not in msg and (not name or name in msg)


# ------------------------------------------------------------ bad files


def _zip_bomb(path: Path, inner: str, mib: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        with z.open(inner, "w", force_zip64=True) as f:
            block = b"\0" * 2**20
            for _ in range(mib):
                f.write(block)


def _flip(data: bytes, rng: random.Random, n: int = 40) -> bytes:
    b = bytearray(data)
    start = min(len(b) // 4, 600)  # keep the magic number: the damage is inside the file
    for i in rng.sample(range(start, len(b)), min(n, len(b) - start)):
        b[i] ^= 0xFF
    return bytes(b)


def write_bad_files(d: Path, big: int = 10 * 2**20, rows: int = 20000, depth: int = 50000, seed: int = 14) -> dict[str, str]:
    """At least 200 bad files under ``d``; returns relative path -> category."""
    rng = random.Random(seed)
    made: dict[str, str] = {}

    def put(rel: str, data: bytes, cat: str) -> None:
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        made[rel] = cat

    tmp = d.parent / (d.name + "-src")
    tmp.mkdir(exist_ok=True)
    docx = make_docx(tmp / "src.docx", [("title", "测试文件"), ("h1", "一、内容"), *[("p", f"第{i}段，档案管理规范有序。") for i in range(40)]]).read_bytes()
    xlsx = make_xlsx(tmp / "src.xlsx", {"清单": [["序号", "事项"], *[[i, f"档案事项{i}"] for i in range(60)]]}).read_bytes()
    pdf = make_pdf(tmp / "src.pdf", [[f"Archive page {p} line {i}." for i in range(20)] for p in range(3)]).read_bytes()
    originals = {"docx": docx, "xlsx": xlsx, "pdf": pdf}

    # truncated and corrupt Office/PDF files
    for ext, data in originals.items():
        for i in range(15):
            put(f"截断/{ext}-{i:02d}.{ext}", data[: max(1, int(len(data) * (i + 1) / 17))], "truncated .docx/.xlsx/.pdf")
        for i in range(15):
            put(f"损坏/{ext}-{i:02d}.{ext}", _flip(data, rng, 10 + 10 * i), "corrupt .docx/.xlsx/.pdf")
    # right name, wrong insides
    put("损坏/只有文件头.pdf", b"%PDF-1.4\n", "corrupt .docx/.xlsx/.pdf")
    put("损坏/OLE垃圾.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(rng.randrange(256) for _ in range(3000)), "corrupt .docx/.xlsx/.pdf")
    put("损坏/其实是PDF.xlsx", pdf, "corrupt .docx/.xlsx/.pdf")
    # encrypted
    for i in range(2):
        encrypt_office(tmp / "src.docx", tmp / f"e{i}.docx", f"pw{i}")
        put(f"加密/文档{i}.docx", (tmp / f"e{i}.docx").read_bytes(), "encrypted")
        encrypt_office(tmp / "src.xlsx", tmp / f"e{i}.xlsx", f"pw{i}")
        put(f"加密/表格{i}.xlsx", (tmp / f"e{i}.xlsx").read_bytes(), "encrypted")
        encrypt_pdf(tmp / "src.pdf", tmp / f"e{i}.pdf", f"pw{i}")
        put(f"加密/文件{i}.pdf", (tmp / f"e{i}.pdf").read_bytes(), "encrypted")
    # zip bombs
    for i, (ext, inner) in enumerate([("docx", "word/document.xml"), ("xlsx", "xl/worksheets/sheet1.xml"), ("docx", "word/styles.xml")]):
        _zip_bomb(tmp / f"bomb{i}.{ext}", inner, 300)
        put(f"炸弹/bomb{i}.{ext}", (tmp / f"bomb{i}.{ext}").read_bytes(), "zip bomb")
    # 0 bytes, every supported type
    for ext in (".md", ".txt", ".markdown", ".docx", ".xlsx", ".xlsm", ".xls", ".pdf", ".html", ".htm", ".csv", ".doc", ".wps"):
        put(f"空文件/empty{ext}", b"", "0-byte")
    # binary junk with text extensions
    junk = {
        "random": bytes(rng.randrange(256) for _ in range(4096)),
        "png": b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(2000)),
        "elf": b"\x7fELF\x02\x01\x01" + b"\x00" * 100 + bytes(rng.randrange(256) for _ in range(2000)),
        "gzip": b"\x1f\x8b\x08\x00" + bytes(rng.randrange(256) for _ in range(2000)),
        "nul": b"\x00" * 3000,
        "zipdoc": docx,
    }
    for ext in (".md", ".txt", ".csv", ".html"):
        for name, data in junk.items():
            put(f"乱码/{name}{ext}", data, "binary junk with text extensions")
    # mixed and wrong encodings
    zh = "第一条 为全面从严治党，落实主体责任，制定本规定。各级党组织应当认真执行。" * 4
    encodings = {
        "utf16le-nobom": zh.encode("utf-16-le"),
        "utf16be-nobom": zh.encode("utf-16-be"),
        "utf32": zh.encode("utf-32"),
        "big5": zh.replace("为", "為").replace("从", "從").replace("严", "嚴").replace("治党", "治黨").replace("责任", "責任").encode("big5", "replace"),
        "shift-jis": "第一条 全面的な党の統治を厳格にする。各組織は実行すること。".encode("shift_jis") * 3,
        "euc-kr": "제1조 전면적으로 엄격하게 당을 관리한다. 각급 조직은 집행한다.".encode("euc-kr") * 3,
        "latin1": ("Règlement général: café, naïve, façade - ÉÈÊ " * 10).encode("latin-1"),
        "half-utf8-half-gbk": zh[: len(zh) // 2].encode("utf-8") + zh[len(zh) // 2 :].encode("gbk"),
        "utf8-bad-bytes": zh.encode("utf-8")[:50] + b"\xff\xfe\xfd" + zh.encode("utf-8")[53:],
        "cp1252-quotes": "“Smart quotes” and – dashes … ".encode("cp1252") * 10,
        "mac-roman": "Ωmega ≈ ∆ π ∑ ".encode("mac_roman") * 20,
        "koi8-r": "Статья 1. Общие положения. ".encode("koi8-r") * 10,
    }
    for name, data in encodings.items():
        put(f"编码/{name}.txt", data, "mixed and wrong encodings")
        put(f"编码/{name}.md", data, "mixed and wrong encodings")
    put("编码/gbk-declared-utf8.html", ('<html><head><meta charset="utf-8"></head><body><p>' + zh + "</p></body></html>").encode("gbk"), "mixed and wrong encodings")
    put("编码/utf8-declared-gbk.html", ('<html><head><meta charset="gbk"></head><body><p>' + zh + "</p></body></html>").encode("utf-8"), "mixed and wrong encodings")
    put("编码/gbk.csv", ("序号,事项\n" + "\n".join(f"{i},档案管理事项{i}" for i in range(20))).encode("gbk"), "mixed and wrong encodings")
    put("编码/utf16.csv", ("序号,事项\n" + "\n".join(f"{i},档案管理事项{i}" for i in range(20))).encode("utf-16"), "mixed and wrong encodings")
    # one enormous line
    filler = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
    put("超长行/一行中文.txt", "".join(rng.choice(filler) for _ in range(big // 3)).encode("utf-8"), "10 MB single-line text")
    put("超长行/one-line.md", b"x" * big, "10 MB single-line text")
    # deeply nested HTML
    for n in (500, 5000, depth):
        put(f"嵌套/div{n}.html", ("<html><body>" + "<div>" * n + "档案管理" + "</div>" * n + "</body></html>").encode(), "deeply nested HTML")
    put("嵌套/tables.html", ("<html><body>" + "<table><tr><td>" * (depth // 16) + "档案" + "</td></tr></table>" * (depth // 16) + "</body></html>").encode(), "deeply nested HTML")
    put("嵌套/unclosed.html", ("<html><body>" + "<span><b><i>" * (depth // 3) + "档案").encode(), "deeply nested HTML")
    put("嵌套/comments.html", ("<html><body>" + "<!--" * 5000 + "档案" + "-->" * 5000 + "</body></html>").encode(), "deeply nested HTML")
    # huge tables
    make_xlsx(tmp / "big.xlsx", {"清单": [["序号", "事项", "数量"], *[[i, f"档案台账条目{i}", i * 3] for i in range(rows)]]})
    put("大表格/台账.xlsx", (tmp / "big.xlsx").read_bytes(), "huge tables")
    put("大表格/台账.csv", ("序号,事项,数量\n" + "\n".join(f"{i},档案台账条目{i},{i * 3}" for i in range(rows))).encode(), "huge tables")
    put("大表格/台账.html", ("<html><body><table>" + "".join(f"<tr><td>{i}</td><td>档案条目{i}</td></tr>" for i in range(rows)) + "</table></body></html>").encode(), "huge tables")
    put("大表格/宽表.csv", (",".join(f"列{j}" for j in range(2000)) + "\n" + "\n".join(",".join(str(i * j) for j in range(2000)) for i in range(20))).encode(), "huge tables")
    # article numbers far beyond the usual
    for n in (9999, 10000, 99999, 100000, 123456789):
        put(f"条号/第{n}条.md", f"# 档案编号规定{n}\n\n第{n - 1}条 档案编号前款。\n\n第{n}条 档案编号应当连续，不得重复。\n".encode(), "第99999条")
    put("条号/第一万条.md", "# 档案汉字编号规定\n\n第九千九百九十九条 档案前款。\n\n第一万条 档案编号应当连续。\n".encode(), "第99999条")
    # the same file name in several folders
    for i, folder in enumerate(("甲", "乙", "丙", "丙/丁", "丙/丁/戊")):
        put(f"同名/{folder}/档案规定.md", f"# 档案规定\n\n第一条 档案工作由第{i}办公室负责。\n".encode(), "duplicate names in subfolders")
    put("同名/己/档案规定.md", (d / "同名/甲/档案规定.md").read_bytes(), "duplicate names in subfolders")  # same bytes too
    # odd names
    for name in ("空 格.md", "😀表情.md", "很长" * 40 + ".md", "换行\n名字.md", "制表\t符.txt", "UPPER.MD"):
        put(f"怪名/{name}", b"\x00\x01binary" * 50 + name.encode(), "odd file names")
    # symlink loops and dangling links
    links = d / "链接"
    links.mkdir(exist_ok=True)
    os.symlink("self.md", links / "self.md")
    os.symlink("b.md", links / "a.md")
    os.symlink("a.md", links / "b.md")
    os.symlink("nowhere/missing.docx", links / "dangling.docx")
    os.symlink(".", links / "loopdir")
    os.symlink(d, links / "up")
    for rel in ("self.md", "a.md", "b.md", "dangling.docx", "loopdir", "up"):
        made[f"链接/{rel}"] = "symlink loops"
    shutil.rmtree(tmp)
    return made


PERMISSION_FILES = ("无权限/规定.md", "无权限/报告.docx", "无权限/清单.xlsx")


def write_unreadable(d: Path) -> dict[str, str]:
    (d / "无权限").mkdir(parents=True, exist_ok=True)
    (d / PERMISSION_FILES[0]).write_text("# 无权限规定\n\n第一条 档案保密。\n", "utf-8")
    make_docx(d / PERMISSION_FILES[1], [("p", "档案保密报告。")])
    make_xlsx(d / PERMISSION_FILES[2], {"清单": [["序号", "事项"], [1, "档案保密"]]})
    for rel in PERMISSION_FILES:
        os.chmod(d / rel, 0)
    return dict.fromkeys(PERMISSION_FILES, "unreadable permissions")


def _judge_files(env: Env, made: dict[str, str], rows: dict[str, Row]) -> None:
    """Per file: refused with one line naming it and the fix, or indexed as a document (never lost, never a crash)."""
    statuses = {e.path: e for e in env.service().document_status()}
    for rel, cat in made.items():
        row = rows.setdefault(cat, Row(cat))
        row.tried += 1
        e = statuses.get(rel)
        name = Path(rel).name
        if e is None:
            if cat == "symlink loops" and not (env.kdir / rel).is_file():
                row.clean += 1  # a link to a folder is not followed (that is what stops the loop): nothing to report
                continue
            row.problems.append(f"{rel}: not reported at all")
            continue
        if e.status in ("indexed",):
            row.clean += 1
            continue
        msg = e.error
        row.note_message(msg)
        if e.status in ("failed", "duplicate", "skipped") and one_line_with_fix(msg, one_line(name)):
            row.clean += 1
        else:
            row.problems.append(f"{rel}: {e.status} {msg!r}")


def bad_files(base: Baseline, work: Path, big: int, rows_: int, depth: int) -> list[Row]:
    """All bad files in one ingest of the live index (plus a second, no-change ingest)."""
    env = base.env.copy(work.name)
    made = write_bad_files(env.kdir / "坏文件", big=big, rows=rows_, depth=depth)
    made = {f"坏文件/{k}": v for k, v in made.items()}
    t0 = time.perf_counter()
    proc = env.cli("ingest", timeout=900)
    seconds = time.perf_counter() - t0
    rows: dict[str, Row] = {}
    _judge_files(env, made, rows)
    for row in rows.values():
        row.exit_codes[proc.returncode] += 1
        if proc.returncode != 0:
            row.problems.append(f"ingest exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
        if "Traceback" in proc.stderr:
            row.problems.append("a traceback reached the terminal")
    # Every skipped/failed line the user saw is one line.
    for line in proc.stderr.splitlines():
        if line.startswith("跳过 ") and " — " not in line:
            next(iter(rows.values())).problems.append(f"a message without a fix: {line}")
    intact = Row("(all bad files)")
    base.check(env, intact, "after the bad-file ingest", grown=True)
    again = env.cli("ingest", timeout=900)  # nothing changed: nothing re-parsed, nothing lost
    if again.returncode != 0 or "索引已是最新" not in again.stdout:
        intact.problems.append(f"second ingest: rc {again.returncode}, {again.stdout.strip()[-120:]}")
    base.check(env, intact, "after a second ingest", grown=True)
    for row in rows.values():
        row.checks, row.intact, row.lost = intact.checks, intact.intact, intact.lost
        row.problems += intact.problems
    rows_list = sorted(rows.values(), key=lambda r: r.fault)
    for row in rows_list:
        row.group = f"one ingest of {len(made)} bad files, {seconds:.0f}s"
    shutil.rmtree(env.root, ignore_errors=True)
    return rows_list


def unreadable(base: Baseline, work: Path) -> Row:
    """chmod 000 files: new ones, and a baseline document made unreadable (it must stay in the index). Root reads
    any file, so as root the ingest runs without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (setpriv)."""
    row = Row("unreadable permissions")
    env = base.env.copy(work.name)
    made = write_unreadable(env.kdir)
    os.chmod(env.kdir / "作风建设规定.md", 0)
    made["作风建设规定.md"] = "unreadable permissions"
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            row.skipped = "running as root without setpriv to drop CAP_DAC_OVERRIDE (root reads any file)"
            return row
        prefix = ("setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search")
    proc = env.cli("ingest", prefix=prefix)
    row.exit_codes[proc.returncode] += 1
    lines = [ln[3:] for ln in proc.stderr.splitlines() if ln.startswith("跳过 ")]
    for rel in made:
        row.tried += 1
        name = Path(rel).name
        msg = next((ln for ln in lines if ln.startswith(name + ":")), "")
        if msg:
            row.note_message(msg)
        if proc.returncode == 0 and one_line_with_fix(msg, name):
            row.clean += 1
        else:
            row.problems.append(f"{rel}: rc {proc.returncode} {msg!r} {proc.stderr.strip()[-200:]!r}")
    for rel in made:
        os.chmod(env.kdir / rel, 0o644)
    base.check(env, row, "after unreadable files")
    shutil.rmtree(env.root, ignore_errors=True)
    return row


# ------------------------------------------------------------ processes: kill -9, two ingests, queries during an ingest


def add_bulk(env: Env, docs: int = 30, articles: int = 25) -> None:
    """Unrelated regulations that make an ingest take a while (档案管理, nothing the baseline questions ask)."""
    bulk = env.kdir / "批量"
    bulk.mkdir(exist_ok=True)
    for i in range(docs):
        body = "\n\n".join(f"第{n}条 档案室第{i}号库房第{n}架应当防潮防火，借阅登记编号{i}-{n}，按季度盘点。" for n in range(1, articles + 1))
        (bulk / f"档案规定{i:03d}.md").write_text(f"# 档案库房管理规定{i:03d}\n\n{body}\n", "utf-8")


def lock_held(kb_dir: Path) -> bool:
    """Whether some process holds the writer lock, read from /proc/locks without touching the lock."""
    lock = kb_dir / ".lock"
    try:
        ino = lock.stat().st_ino
        text = Path("/proc/locks").read_text()
    except OSError:
        return False
    return any(line.split()[5].endswith(f":{ino}") for line in text.splitlines() if len(line.split()) > 5)


def kill_nine(base: Baseline, work: Path, points: int, seed: int = 9) -> Row:
    """SIGKILL a forced rebuild at random moments; after each, the live index must be whole and unchanged."""
    from assistant.index.store import check_generation, current_generation

    row = Row("kill -9 during ingest")
    env = base.env.copy(work.name)
    add_bulk(env)
    env.cli("ingest")  # the bulk documents are in; every rebuild below rewrites all of it
    base_now = Baseline(env, snapshot(env), base.chunks)
    t0 = time.perf_counter()
    full = env.cli("kb", "rebuild")
    duration = time.perf_counter() - t0
    if full.returncode != 0:
        row.problems.append(f"a full rebuild failed: {full.stderr[-300:]}")
        return row
    rng = random.Random(seed)
    for _ in range(points):
        row.tried += 1
        delay = rng.uniform(0.0, duration)
        proc = env.start("kb", "rebuild")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        row.exit_codes[proc.returncode] += 1
        gen = current_generation(env.kb_dir)
        problem = check_generation(gen) if gen else "no live generation"
        if problem:
            row.problems.append(f"kill at {delay:.2f}s: live index damaged: {problem}")
        else:
            row.clean += 1
        base_now.check(env, row, f"kill at {delay:.2f}s")
    after = env.cli("ingest")
    leftovers = len(list(env.kb_dir.glob("gen-*")))
    if after.returncode != 0 or leftovers > 2 or lock_held(env.kb_dir):
        row.problems.append(f"ingest after the kills: rc {after.returncode}, {leftovers} generations left, {after.stderr[-200:]}")
    row.example = f"(killed {points}× at random points of a {duration:.1f}s rebuild; the next ingest: rc {after.returncode}, {leftovers} generations on disk)"
    shutil.rmtree(env.root, ignore_errors=True)
    return row


def two_ingests(base: Baseline, work: Path) -> Row:
    row = Row("two ingests at once")
    env = base.env.copy(work.name)
    add_bulk(env)
    env.cli("ingest")
    base = Baseline(env, snapshot(env), base.chunks)  # the bulk documents are part of what must stay
    first = env.start("kb", "rebuild")
    deadline = time.monotonic() + 60
    while not lock_held(env.kb_dir) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    second = env.cli("ingest")
    out, err = first.communicate(timeout=300)
    row.tried = 1
    row.exit_codes[second.returncode] += 1
    msg = last_line(second.stderr)
    row.note_message(msg)
    if second.returncode == 2 and one_line_with_fix(msg, env.kb_dir.name) and msg.startswith("错误：") and first.returncode == 0:
        row.clean += 1
    else:
        row.problems.append(f"second ingest rc {second.returncode} {msg!r}; first rc {first.returncode} {err[-200:]!r}")
    base.check(env, row, "after two ingests")
    shutil.rmtree(env.root, ignore_errors=True)
    return row


def queries_during_ingest(base: Baseline, work: Path, rounds: int = 2) -> Row:
    """Ask the baseline questions in a loop (one long-lived service, as the web UI has) while rebuilds run.
    Every other question is asked in hybrid mode; it must keep the BM25 baseline's outcome and cite its first citation."""
    row = Row("queries during ingest")
    env = base.env.copy(work.name)
    add_bulk(env)
    env.cli("ingest")
    base = Baseline(env, snapshot(env), base.chunks)  # the bulk documents are part of what must stay
    svc = env.service()
    for _ in range(rounds):
        proc = env.start("kb", "rebuild")
        while proc.poll() is None:
            for q in QUESTIONS:
                row.tried += 1
                try:
                    a = svc.ask(q, mode=MODE if row.tried % 2 else "hybrid")
                except Exception as e:  # noqa: BLE001 - a failed query is a finding, recorded in the table
                    row.problems.append(f"{q}: {type(e).__name__}: {e}")
                    continue
                row.clean += 1
                row.checks += 1
                got = (a.outcome, tuple((c.label, c.quote) for c in a.citations))
                # hybrid: ties among hash vectors may reorder the citations; the baseline's first one must be there
                if got == base.answers[q] or (row.tried % 2 == 0 and got[0] == base.answers[q][0] and set(base.answers[q][1][:1]) <= set(got[1])):
                    row.intact += 1
                else:
                    row.problems.append(f"{q}: answer changed during the ingest: {got} (was {base.answers[q]})")
        proc.communicate()
        row.exit_codes[proc.returncode] += 1
    lost = lost_documents(env, base.chunks)
    row.lost += len(lost)
    row.example = f"({row.tried} questions asked during {rounds} rebuilds)"
    shutil.rmtree(env.root, ignore_errors=True)
    return row


# ------------------------------------------------------------ a full disk


@contextmanager
def small_disk(path: Path, size_kib: int) -> Iterator[str]:
    """A tmpfs of ``size_kib`` at ``path``; yields "" or why it could not be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        yield "not root (mounting a size-limited tmpfs needs root)"
        return
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        yield f"mount -t tmpfs is not permitted here ({proc.stderr.strip()[:100]})"
        return
    try:
        yield ""
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def disk_full(base: Baseline, work: Path) -> Row:
    row = Row("disk full during ingest")
    env = base.env.copy(work.name)
    used = sum(p.stat().st_size for p in env.index.rglob("*") if p.is_file()) // 1024
    mnt = env.root / "mnt"
    # Room for the live index and a little more; the next generation (a copy of chroma plus 750 new chunks) does not fit.
    with small_disk(mnt, used + 600) as why:
        if why:
            row.skipped = why
            return row
        shutil.copytree(env.index, mnt / "index")
        small = Env(env.root, env.kdir, mnt / "index", env.kb)
        add_bulk(small)
        for attempt in range(2):
            row.tried += 1
            proc = small.cli("ingest")
            row.exit_codes[proc.returncode] += 1
            msg = last_line(proc.stderr)
            row.note_message(msg)
            leftovers = [p.name for p in small.kb_dir.glob("gen-*")]
            if proc.returncode == 2 and one_line_with_fix(msg) and "磁盘空间不足" in msg and "Traceback" not in proc.stderr and len(leftovers) == 1:
                row.clean += 1
            else:
                row.problems.append(f"attempt {attempt + 1}: rc {proc.returncode}, {leftovers}, {proc.stderr.strip()[-300:]!r}")
            base.check(small, row, f"after disk full #{attempt + 1}")
        shutil.rmtree(mnt / "index", ignore_errors=True)
    shutil.rmtree(env.root, ignore_errors=True)
    return row


# ------------------------------------------------------------ damaged index files


def _damage(path: Path, how: str, rng: random.Random) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif how == "flip":
        path.write_bytes(_flip(path.read_bytes(), rng, 8))
    elif how == "zero":
        path.write_bytes(b"\0" * path.stat().st_size)


def damage_targets(env: Env) -> list[str]:
    from assistant.index.store import current_generation

    gen = current_generation(env.kb_dir)
    bm25 = sorted(p.relative_to(gen).as_posix() for p in (gen / "bm25").iterdir())
    return ["chroma/chroma.sqlite3", *bm25, "chunks.jsonl", "manifest.json"]


def damaged_files(base: Baseline, work: Path, cases: list[tuple[str, str]] | None = None) -> Row:
    """Damage one file of the live generation; a question and an ingest must each name it with `kb repair`
    (exit 2, no traceback); `kb repair` must bring back the same answers."""
    from assistant.faces.cli.main import main
    from assistant.index.store import check_generation, current_generation

    row = Row("damaged chroma/bm25 file in the live generation")
    targets = damage_targets(base.env)
    cases = cases or [(t, how) for t in targets for how in ("truncate", "flip", "delete")]
    rng = random.Random(3)
    for i, (target, how) in enumerate(cases):
        env = base.env.copy(f"{work.name}-{i}")
        gen = current_generation(env.kb_dir)
        _damage(gen / target, how, rng)
        # Flipped bytes in an unused page of the sqlite file change nothing that is read: nothing to detect then.
        harmless = current_generation(env.kb_dir) is not None and not check_generation(gen)
        row.tried += 1
        ok = True
        for args in (["ask", QUESTIONS[0]], ["ingest"]):
            rc, out, err = _main(main, env, *args)
            row.exit_codes[rc] += 1
            if rc == 0 and harmless:
                continue
            line = last_line(err)
            row.note_message(line)
            if not (rc == 2 and one_line_with_fix(line) and "索引文件损坏" in line and "kb repair" in line and target.split("/")[-1] in line):
                ok = False
                row.problems.append(f"{target} {how}: `{args[0]}` rc {rc}: {err.strip()[-300:]!r}")
        rc, out, err = _main(main, env, "kb", "repair")
        row.exit_codes[rc] += 1
        if rc != 0:
            ok = False
            row.problems.append(f"{target} {how}: kb repair rc {rc}: {err.strip()[-300:]!r}")
        row.clean += ok
        base.check(env, row, f"{target} {how}, after kb repair")
        shutil.rmtree(env.root, ignore_errors=True)
    return row


def _main(main: Callable, env: Env, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (fast), with stdout/stderr captured and the env of ``env``."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env.env())
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(list(args))
            except SystemExit as e:
                rc = int(e.code or 0)
            except Exception:  # noqa: BLE001 - a traceback is a finding: recorded, exit code 1 like Python's
                import traceback

                err.write(traceback.format_exc())
                rc = 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------------------------ the whole suite


def run_all(work: Path, *, big: int, rows: int, depth: int, kills: int, damage_cases: list[tuple[str, str]] | None, progress: Callable[[str], None] = lambda s: None) -> list[Row]:
    work.mkdir(parents=True, exist_ok=True)
    base = baseline(work / "baseline")
    out: list[Row] = []
    steps: list[tuple[str, Callable[[], list[Row] | Row]]] = [
        ("bad files", lambda: bad_files(base, work / "bad", big, rows, depth)),
        ("unreadable", lambda: unreadable(base, work / "perm")),
        ("kill -9", lambda: kill_nine(base, work / "kill", kills)),
        ("disk full", lambda: disk_full(base, work / "disk")),
        ("two ingests", lambda: two_ingests(base, work / "two")),
        ("queries during ingest", lambda: queries_during_ingest(base, work / "queries")),
        ("damaged files", lambda: damaged_files(base, work / "damaged", damage_cases)),
    ]
    for name, step in steps:
        t0 = time.perf_counter()
        result = step()
        out.extend(result if isinstance(result, list) else [result])
        progress(f"{name}: {time.perf_counter() - t0:.1f}s")
    return out


def table(rows: list[Row]) -> str:
    head = "| fault | inputs tried | handled cleanly | index intact | data lost | messages in Chinese | exit codes | example message |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.skipped:
            lines.append(f"| {r.fault} | skipped | – | – | – | – | – | {r.skipped} |")
            continue
        codes = ", ".join(f"{k}×{v}" for k, v in sorted(r.exit_codes.items()))
        example = r.example.replace("|", "\\|").replace("\n", "\\n")
        if len(example) > 160:
            example = example[:157] + "…"
        lines.append(
            f"| {r.fault} | {r.tried} | {r.clean} | {r.intact}/{r.checks} | {r.lost} | {r.chinese}/{r.messages} | {codes} | {example} |"
        )
    total = [r for r in rows if not r.skipped]
    once: dict[str, Row] = {}
    for r in total:
        once.setdefault(r.group or id(r), r)
    checks = list(once.values())
    lines.append(
        f"| **total** | {sum(r.tried for r in total)} | {sum(r.clean for r in total)} | "
        f"{sum(r.intact for r in checks)}/{sum(r.checks for r in checks)} | {sum(r.lost for r in checks)} | "
        f"{sum(r.chinese for r in total)}/{sum(r.messages for r in total)} | | |"
    )
    return "\n".join(lines)


