"""Incremental, crash-safe ingest: scan sources, chunk what changed, embed only new chunks, commit a new generation."""

from __future__ import annotations

import dataclasses
import errno
import json
import shutil
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from assistant.core.errors import AssistantError, IngestError, one_line, shown_name
from assistant.core.messages import error
from assistant.core.protocols import Embedder
from assistant.core.resources import RESOURCES
from assistant.core.types import Chunk, Document, DocumentStatus
from assistant.index.store import (
    GenerationWriter,
    check_generation,
    current_generation,
    damage_error,
    lost_manifest,
    read_chunks,
    read_manifest,
    writer_lock,
)
from assistant.ingest.chunking import CHUNKER_VERSION, chunk_document
from assistant.ingest.embed import EmbedAhead, Progress, add_vectors
from assistant.ingest.loaders import LOADERS, check_size, file_hash, load_document, supported
from assistant.ingest.ocr import LOW_CONFIDENCE, ocr_cache, page_progress, prune_cache
from assistant.text import tokenize
from assistant.text.thesaurus import is_thesaurus_file

VERSIONS = json.loads((RESOURCES / "versions.json").read_text("utf-8"))
# Housekeeping files that sit beside documents but are not knowledge (a corpus MANIFEST lists what is *missing*).
SKIP_NAMES = {"readme.md", "readme.txt", "license", "license.md", "license.txt", "manifest.md", "changelog.md", "make_samples.py",
              "废止.txt"}  # 废止.txt: the titles an admin marked 已废止 (app.documents.REPEAL_FILE)

OCR_CACHE = "ocr-cache"  # in the knowledge base's index folder: pages read by OCR, per file content (ocr.ocr_cache)


# What happened to each file in an ingest, as the summary line shows it.
STATUS_LABELS = {
    "added": "新增", "updated": "修改", "unchanged": "未变", "removed": "删除",
    "failed": "失败", "duplicate": "重复", "skipped": "跳过",
}


@dataclass
class FileResult:
    path: str
    status: str  # added | updated | unchanged | removed | failed | duplicate | skipped
    chunks: int = 0
    error: str = ""
    title: str = ""
    kind: str = ""


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    generation: str = ""
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    changed: bool = False
    warnings: list[str] = field(default_factory=list)  # one line each, shown before the summary

    @property
    def failures(self) -> list[FileResult]:
        return [f for f in self.files if f.status in ("failed", "duplicate", "skipped")]

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for f in self.files:
            counts[f.status] = counts.get(f.status, 0) + 1
        parts = "，".join(f"{STATUS_LABELS.get(k, k)} {v}" for k, v in sorted(counts.items()))
        head = f"{self.chunks} 个片段（本次向量化 {self.embedded} 个），用时 {self.seconds:.1f} 秒；文件：{parts or '无'}"
        return head if self.changed else head + "；索引已是最新"


@dataclass(frozen=True)
class Source:
    """A folder whose files belong to the knowledge base; ``prefix`` keeps relative paths unique.

    ``required``: the user's own knowledge folder. Missing, it stops the ingest (a mistyped path must not
    empty the live index); empty, its documents stay in the index unless the ingest is forced (--rebuild).
    """

    root: Path
    prefix: str = ""
    required: bool = False
    setting: str = "ASSISTANT_KNOWLEDGE_DIR"  # what the user changes to point at another folder


def scan(sources: Sequence[Source], excluded: AbstractSet[str] = frozenset()) -> tuple[dict[str, tuple[Path, Path]], list[FileResult]]:
    """Supported files as rel -> (path, source root), and the files skipped for their type."""
    files: dict[str, tuple[Path, Path]] = {}
    skipped: list[FileResult] = []
    for src in sources:
        if not src.root.is_dir():
            continue
        for p in sorted(src.root.rglob("*")):  # symlinked folders are not followed, so a link loop ends here
            if any(part.startswith(".") for part in p.relative_to(src.root).parts):
                continue
            rel = src.prefix + p.relative_to(src.root).as_posix()
            if not p.is_file():
                if p.is_symlink() and not p.exists() and supported(p) and rel not in excluded:
                    skipped.append(FileResult(rel, "skipped", error=f"{shown_name(p)}: 是指向不存在文件的链接或循环链接 — 删除或修正这个符号链接"))
                continue
            if rel in excluded or p.name.lower() in SKIP_NAMES or is_thesaurus_file(p.name):
                continue
            if supported(p):
                files[rel] = (p, src.root)
            elif not p.name.startswith("~$"):
                skipped.append(FileResult(rel, "skipped", error=f"{shown_name(p)}: 文件类型 {p.suffix or '（无扩展名）'} 不受支持 — 转换为以下类型之一：{' '.join(sorted(LOADERS))}"))
    return files, skipped


def _disk_full(e: BaseException) -> bool:
    """ENOSPC from Python, or sqlite's 'database or disk is full' as chroma reports it."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(e).lower()
    return "disk is full" in text or "no space left" in text or "(code: 13)" in text


def _nearly_full(path: Path) -> bool:
    """Chroma's own error for a full disk does not say so ("Error in compaction…"): ask the file system."""
    try:
        return shutil.disk_usage(path).free < 2 * 2**20
    except OSError:
        return False


def check_required(sources: Sequence[Source]) -> None:
    """Refuse to ingest from a knowledge folder that is not there (typo, unmounted drive)."""
    for src in sources:
        if src.required and not src.root.is_dir():
            what = "不是文件夹" if src.root.exists() else "不存在"
            raise AssistantError(
                f"知识库文件夹{what}：{src.root}；未做任何改动，现有索引保持不变",
                f"检查 {src.setting}（或 --knowledge-dir）的路径，或先创建该文件夹",
            )


def _from_source(rel: str, src: Source, sources: Sequence[Source]) -> bool:
    """Whether an indexed path came from ``src`` (the source with the longest matching prefix)."""
    best = max((s for s in sources if rel.startswith(s.prefix)), key=lambda s: len(s.prefix), default=None)
    return best is src


def label_versions(chunks: list[Chunk]) -> list[Chunk]:
    """Mark chunks of superseded documents: an older version of a title held in the KB, or older than the registry knows."""
    newest: dict[str, str] = {}
    for c in chunks:
        if c.version and c.kind == "regulation":
            newest[c.title] = max(newest.get(c.title, ""), c.version)
    out = []
    for c in chunks:
        sup, by = False, ""
        if c.version and c.kind == "regulation":
            if newest.get(c.title, "") > c.version:
                sup, by = True, f"{newest[c.title]}年版"
            known = VERSIONS.get(c.title)
            if isinstance(known, dict) and known.get("latest", "") > c.version[:4]:
                sup, by = True, known.get("name") or f"{known['latest']}年版"
        out.append(dataclasses.replace(c, superseded=sup, superseded_by=by) if (sup, by) != (c.superseded, c.superseded_by) else c)
    return out


def _ocr_note(note: Progress, bar: tqdm, n: int, count: int, rel: str) -> Callable[[int, int], None]:
    """Progress within a file read page by page by OCR: the file's share of the reading half, and the bar's postfix."""

    def done_pages(done: int, total: int) -> None:
        note(0.5 * (n + done / max(total, 1)) / max(count, 1), f"读取 {rel}（OCR 第 {done}/{total} 页）")
        bar.set_postfix_str(f"OCR {done}/{total}" if done < total else "")

    return done_pages


@dataclass(frozen=True)
class FileCheck:
    """One row of the change table: a file in the sources against the live index.

    status: unchanged (indexed with these bytes and kind), changed / new (to parse), duplicate (same bytes as an
    earlier file), failed (failed before with these bytes, or cannot be read now: ``error`` says why)."""

    rel: str
    path: Path
    root: Path
    status: str
    digest: str = ""
    kind: str = ""
    error: str = ""
    memo: bool = False  # a failure worth remembering with its bytes (not a permission problem that may pass)


def check_file(
    rel: str, path: Path, root: Path, old: dict | None, memo: dict | None, kind: str, seen: dict[str, str], retry_failed: bool = False
) -> FileCheck:
    """Compare one file with what the index holds for it (``seen``: digest -> first file with it, updated here)."""
    try:
        check_size(path)  # before reading: a huge file must not be pulled into memory to hash it
        data = path.read_bytes()
    except IngestError as e:
        return FileCheck(rel, path, root, "failed", kind=kind, error=str(e), memo=True)
    except OSError as e:
        return FileCheck(rel, path, root, "failed", kind=kind, error=f"{shown_name(path)}: 无法读取（{e.strerror}） — 检查文件权限")
    digest = file_hash(data)
    if digest in seen:
        return FileCheck(rel, path, root, "duplicate", digest, kind, f"{shown_name(path)}: 与 {one_line(seen[digest])} 内容相同 — 删除其中一份")
    seen[digest] = rel
    if old and old.get("sha256") == digest and old.get("kind_override", "") == kind:
        return FileCheck(rel, path, root, "unchanged", digest, kind)
    if memo and memo.get("sha256") == digest and memo.get("kind_override", "") == kind and not retry_failed:
        return FileCheck(rel, path, root, "failed", digest, kind, memo.get("error", ""), memo=True)
    return FileCheck(rel, path, root, "changed" if old else "new", digest, kind)


@dataclass
class Previous:
    """The live generation as an ingest finds it: its manifest, chunks and BM25 tokens, by source file."""

    gen: Path | None
    manifest: dict
    chunks: list[Chunk]
    tokens: list[list[str]]
    by_source: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def read(cls, gen: Path | None) -> Previous:
        chunks, tokens = read_chunks(gen)
        by_source: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            by_source.setdefault(c.source, []).append(i)
        return cls(gen, read_manifest(gen), chunks, tokens, by_source)

    def held(self, rel: str) -> list[tuple[Chunk, list[str]]]:
        return [(self.chunks[i], self.tokens[i]) for i in self.by_source.get(rel, [])]


def parse_file(check: FileCheck, max_chars: int, note_pages: Callable[[int, int], None]) -> tuple[Document, list[Chunk]]:
    """Parse and chunk one file (OCR reports its pages through ``note_pages``)."""
    with page_progress(note_pages):
        doc = load_document(check.path, check.root, kind=check.kind)
    doc = dataclasses.replace(doc, source=check.rel)
    chunks = chunk_document(doc, max_chars=max_chars)
    if not chunks:
        raise IngestError(check.path, "没有切分出任何文本段", "检查文件中是否有可读的文字")
    return doc, chunks


def file_entry(check: FileCheck, doc: Document, chunks: int) -> dict:
    """The manifest's record of an ingested file."""
    entry = {
        "sha256": check.digest,
        "title": doc.title,
        "kind": doc.kind,
        "kind_override": check.kind,
        "version": doc.version,
        "chunks": chunks,
        "warnings": list(doc.warnings),
    }
    if doc.ocr_pages:
        entry["ocr_pages"] = [list(p) for p in doc.ocr_pages]  # (page, confidence) read by OCR
    return entry


def _empty_sources(sources: Sequence[Source], files: dict[str, tuple[Path, Path]]) -> list[Source]:
    """The user's required folders in which the scan found nothing to ingest."""
    return [src for src in sources if src.required and not any(_from_source(rel, src, sources) for rel in files)]


def _empty_source_warning(src: Source, held: int, keep: bool) -> str:
    if held and keep:
        return (
            f"知识库文件夹 {src.root} 中没有可入库的文件；保留索引中原有的 {held} 个文件"
            f" — 检查 {src.setting} 的路径；确实要清空时运行 `assistant ingest --rebuild`"
        )
    return f"知识库文件夹 {src.root} 中没有可入库的文件 — 把文档放进该文件夹，或检查 {src.setting} 的路径"


def write_generation(
    kb_dir: Path,
    ahead: EmbedAhead,
    chunks: list[Chunk],
    tokens: list[list[str]],
    manifest: dict,
    bm25: tuple[float, float],
    *,
    seed: bool,
    force: bool,
    note: Progress,
    chroma_url: str = "",
) -> tuple[str, int]:
    """Steps 4 and 5: embed the chunks the previous generation has no vector for (most of them were embedded by
    ``ahead`` while the files were read), write chunks and BM25, commit. Returns (generation name, chunks embedded).
    On any failure the half-written generation is removed."""
    embedder = ahead.embedder
    writer = GenerationWriter(kb_dir, seed=seed, chroma_url=chroma_url)
    try:
        collection = writer.open_collection(embedder.dim, embedder.name)
        existing = set(collection.get(include=[])["ids"]) if collection.count() else set()
        stale = sorted(existing if force else existing - {c.id for c in chunks})  # a forced rebuild re-embeds everything
        for i in range(0, len(stale), 5000):
            collection.delete(ids=stale[i : i + 5000])
        todo = [c for c in chunks if force or c.id not in existing]
        add_vectors(collection, todo, ahead.vectors_for(todo, note))
        writer.write_chunks(chunks, tokens)
        writer.write_bm25(tokens, *bm25)
        writer.commit(manifest)
    except BaseException as e:
        full = isinstance(e, Exception) and (_disk_full(e) or _nearly_full(kb_dir))
        writer.abort()
        if full:
            raise AssistantError(
                f"磁盘空间不足，新索引没有写完（{kb_dir}）；已删除写了一半的文件，上一次的索引保持不变",
                f"在 {kb_dir} 所在的磁盘上腾出空间后重新运行 `assistant ingest`",
            ) from None
        raise
    return writer.path.name, len(todo)


def ingest(
    sources: Sequence[Source],
    kb_dir: Path,
    embedder: Embedder,
    *,
    max_chars: int = 600,
    kinds: dict[str, str] | None = None,
    excluded: AbstractSet[str] = frozenset(),
    progress: Progress | None = None,
    show_bar: bool = True,
    force: bool = False,
    bm25: tuple[float, float] = (1.2, 0.5),
    chroma_url: str = "",
) -> IngestReport:
    """Bring the index in ``kb_dir`` in line with ``sources``: scan → check each file against the index (the change
    table) → parse and chunk what changed → embed new chunks → commit a new generation. The live index stays
    readable throughout, and a file that fails keeps its previously indexed version."""
    t0 = time.perf_counter()
    kinds = kinds or {}
    note = progress or (lambda frac, desc: None)
    check_required(sources)
    with writer_lock(kb_dir), ExitStack() as cleanup:
        cleanup.enter_context(ocr_cache(kb_dir / OCR_CACHE))  # a re-chunk or --rebuild does not OCR the scans again
        gen = current_generation(kb_dir)
        warnings: list[str] = []
        damaged = check_generation(gen) if gen is not None else lost_manifest(kb_dir)
        if damaged and not force:
            raise damage_error(kb_dir, damaged)
        if damaged:  # a forced rebuild (kb repair / --rebuild) starts from the source files alone
            warnings.append(f"当前索引已损坏（{damaged}），本次从源文件完整重建")
            gen = None
        prev = Previous.read(gen)
        # Files chunked by another chunker version or size are re-chunked; unchanged chunks keep their vectors.
        chunker = f"{CHUNKER_VERSION}/{max_chars}"
        rechunk = force or prev.manifest.get("chunker") != chunker

        # 1. scan
        files, results = scan(sources, excluded)
        kept: list[tuple[Chunk, list[str]]] = []
        manifest_files: dict[str, dict] = {}

        def keep_previous(rel: str) -> bool:
            """A file that cannot be ingested now keeps its indexed version (if it has one)."""
            if rel not in prev.by_source:
                return False
            kept.extend(prev.held(rel))
            manifest_files[rel] = prev.manifest["files"][rel]
            return True

        for src in _empty_sources(sources, files):
            held = [rel for rel in prev.manifest["files"] if _from_source(rel, src, sources)]
            warnings.append(_empty_source_warning(src, len(held), keep=not force))
            if not force:  # an empty folder is far more often a wrong path or an unmounted drive than a wish to delete all
                for rel in held:
                    manifest_files[rel] = prev.manifest["files"][rel]
                    kept.extend(prev.held(rel))
        seen: dict[str, str] = {}
        prev_failed: dict[str, dict] = prev.manifest.get("failed", {})
        failed_memo: dict[str, dict] = {}
        same_embedder = prev.manifest.get("embedder") == embedder.name
        changed = force or not same_embedder or tuple(prev.manifest.get("bm25", ())) != tuple(bm25)
        # New chunks are embedded while later files are read; the previous generation's vectors are reused.
        reuse = () if force or damaged or not same_embedder else {c.id for c in prev.chunks}
        ahead = cleanup.enter_context(EmbedAhead(embedder, skip=reuse, show_bar=show_bar))

        bar = tqdm(files.items(), desc="reading", unit="file", disable=not show_bar, leave=False)
        for n, (rel, (path, root)) in enumerate(bar):
            note(0.5 * n / max(len(files), 1), f"读取 {rel}" + (f"；{ahead.status()}" if ahead.total else ""))
            # 2. check against the index
            old = prev.manifest["files"].get(rel)
            check = check_file(rel, path, root, old, prev_failed.get(rel), kinds.get(rel, ""), seen, retry_failed=force)
            if check.status == "unchanged" and not rechunk and rel in prev.by_source:
                keep_previous(rel)
                results.append(FileResult(rel, "unchanged", old.get("chunks", 0), title=old.get("title", ""), kind=old.get("kind", "")))
                continue
            if check.status == "duplicate":
                results.append(FileResult(rel, "duplicate", error=check.error))
                continue
            if check.status == "failed":
                kept_old = keep_previous(rel)
                # A passing problem (permissions) says the old version stays; a remembered failure is reported as it was.
                msg = check.error if check.memo or not kept_old else check.error.replace(" — ", "；索引中保留该文件的上一版本 — ", 1)
                results.append(FileResult(rel, "failed", error=msg))
                if check.memo:
                    failed_memo[rel] = {"sha256": check.digest, "kind_override": check.kind, "error": check.error}
                continue
            # 3. parse and chunk
            changed = True
            try:
                doc, chunks = parse_file(check, max_chars, _ocr_note(note, bar, n, len(files), rel))
            except IngestError as e:
                msg = str(e)
            except Exception as e:  # a parser crash on one file must not stop the batch
                msg = f"{shown_name(path)}: 无法解析（{type(e).__name__}: {one_line(str(e)[:200])}） — 用原来的软件另存为标准格式"
            else:
                ahead.add(chunks)
                kept.extend((c, tokenize(c.retrieval_text)) for c in chunks)
                manifest_files[rel] = file_entry(check, doc, len(chunks))
                results.append(FileResult(rel, "updated" if old else "added", len(chunks), title=doc.title, kind=doc.kind))
                continue
            msg += "；索引中保留该文件的上一版本" if keep_previous(rel) else ""
            results.append(FileResult(rel, "failed", error=msg))
            failed_memo[rel] = {"sha256": check.digest, "kind_override": check.kind, "error": msg}
        failed_now = {f.path for f in results if f.status == "failed"}
        removed = [r for r in prev.manifest["files"] if r not in manifest_files and r not in failed_now]
        changed = changed or failed_memo != prev_failed or bool(removed)  # a failure appeared, changed or went away
        # The vectors move to (or off) a chroma server: a new generation, seeded with the old one's vectors.
        changed = changed or ((prev.manifest.get("vectors") or {}).get("url", "") if prev.gen else chroma_url) != chroma_url
        results.extend(FileResult(rel, "removed") for rel in removed)

        report = IngestReport(files=results, warnings=warnings)
        if not changed and prev.gen is not None:
            report.generation = prev.gen.name
            report.chunks = len(prev.chunks)
            report.seconds = time.perf_counter() - t0
            note(1.0, "索引已是最新")
            return report

        chunks = label_versions([c for c, _ in kept])
        manifest = {
            "embedder": embedder.name,
            "dim": embedder.dim,
            "files": manifest_files,
            "errors": {f.path: f.error for f in results if f.error},
            "failed": failed_memo,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "sources": [str(s.root) for s in sources],
            "chunks": len(chunks),
            "bm25": list(bm25),
            "chunker": chunker,
        }
        report.generation, report.embedded = write_generation(
            kb_dir, ahead, chunks, [t for _, t in kept], manifest, bm25, seed=not damaged, force=force, note=note, chroma_url=chroma_url,
        )
        prune_cache(kb_dir / OCR_CACHE, {f.get("sha256", "") for f in manifest_files.values()})  # a removed file's text goes
        report.chunks = len(chunks)
        report.changed = True
        report.seconds = time.perf_counter() - t0
        note(1.0, "完成")
        return report


# The change table as `kb list` shows it.
DOC_STATUS = {"unchanged": "indexed", "changed": "changed", "new": "pending", "failed": "failed", "duplicate": "duplicate"}


def document_status(
    sources: Sequence[Source], kb_dir: Path, kinds: dict[str, str] | None = None, excluded: AbstractSet[str] = frozenset()
) -> list[DocumentStatus]:
    """Every file the knowledge base knows or sees, with its status against the live index (the ingest's own
    change table, check_file).

    indexed: in the index as it is on disk; changed: edited (or its declared kind changed) since;
    pending: not ingested yet; missing: indexed but the file is gone; failed / duplicate / skipped /
    excluded: not in the index, with the reason in ``error``.
    """
    kinds = kinds or {}
    manifest = read_manifest(current_generation(kb_dir))
    indexed, failed = manifest["files"], manifest.get("failed", {})
    files, skipped = scan(sources, set())
    out: list[DocumentStatus] = []
    seen: dict[str, str] = {}

    def known(rel: str, old: dict, status: str, error: str = "") -> DocumentStatus:
        pages = tuple((int(p), float(c)) for p, c in old.get("ocr_pages", ()))  # (page, confidence) read by OCR
        return DocumentStatus(
            rel, status, old.get("kind", ""), old.get("title", ""), old.get("chunks", 0), error,
            tuple(old.get("warnings", ())), pages, tuple(p for p in pages if p[1] < LOW_CONFIDENCE),
        )  # fmt: skip

    for rel, (path, root) in files.items():
        old = indexed.get(rel) or {}
        if rel in excluded:
            out.append(known(rel, old, "excluded", "已从知识库移除（文件本身保留）"))
            continue
        check = check_file(rel, path, root, old or None, failed.get(rel), kinds.get(rel, ""), seen)
        out.append(known(rel, old, DOC_STATUS[check.status], check.error))
    for rel, old in indexed.items():
        if rel not in files:
            out.append(known(rel, old, "missing", "文件已不存在；下次导入时从索引中删除"))
    out.extend(DocumentStatus(f.path, "skipped", error=f.error) for f in skipped)
    return sorted(out, key=lambda e: e.path)


def require_index(kb_dir: Path) -> Path:
    gen = current_generation(kb_dir)
    if gen is None:
        raise error("no_index_at", path=kb_dir)
    return gen
