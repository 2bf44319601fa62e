"""The application service: what the CLI and the UI call. Holds no UI or backend specifics."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from assistant.answering.gate import Gate
from assistant.app.documents import answerable, mark_repealed_hits, repealed_titles, version_notes
from assistant.core.errors import AssistantError, IngestError
from assistant.core.messages import error, say
from assistant.core.protocols import Answerer, Embedder, Retriever, Reworder, Rewriter
from assistant.core.settings import Settings
from assistant.core.types import (
    DOC_KINDS,
    UPLOADS_PREFIX,
    Answer,
    Chunk,
    Decision,
    DocumentStatus,
    Hit,
    IndexedDocument,
    KbStats,
    final_answer,
)
from assistant.index.rerank import RerankModel
from assistant.index.retrieval import IndexReader, make_retriever
from assistant.index.store import current_generation, ensure_intact, list_kbs, read_manifest
from assistant.ingest.loaders import LOADERS, check_size, file_hash, supported
from assistant.ingest.pipeline import FileResult, IngestReport, Progress, Source, check_required, document_status, ingest
from assistant.text.thesaurus import PACKAGED, Thesaurus, thesaurus_stamp

log = logging.getLogger(__name__)

def keep_question(question: str, history: Sequence[tuple[str, str]]) -> str:
    return question


class AssistantService:
    def __init__(
        self,
        settings: Settings,
        embedder_factory: Callable[[], Embedder],
        answerer: Answerer,
        rewriter: Rewriter = keep_question,
        gate_factory: Callable[[str], Gate] | None = None,
        reworder: Reworder | None = None,
        reranker_factory: Callable[[str], RerankModel | None] | None = None,
    ) -> None:
        self.settings = settings
        self._embedder_factory = embedder_factory
        self._embedder: Embedder | None = None
        self.answerer = answerer
        self.rewriter = rewriter
        self._gate_factory = gate_factory or (lambda mode: Gate(None, settings.min_relevance))
        self._gates: dict[str, Gate] = {}
        self._reranker_factory = reranker_factory or (lambda mode: None)
        self._rerankers: dict[str, RerankModel | None] = {}
        self.reworder = reworder
        self._reader: IndexReader | None = None
        self._thesaurus_stamp: tuple = ()
        self._lock = threading.Lock()
        self._reader_lock = threading.Lock()
        self._jobs = None

    # ------------------------------------------------------------ wiring

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self._embedder_factory()
            return self._embedder

    @property
    def kb_dir(self) -> Path:
        return self.settings.kb_dir

    @property
    def uploads_dir(self) -> Path:
        return self.kb_dir / "uploads"

    def sources(self) -> list[Source]:
        return [Source(self.settings.knowledge_dir, required=True), Source(self.uploads_dir, "uploads/")]

    def thesaurus(self) -> Thesaurus:
        """The packaged thesaurus plus the office's own 同义词*.tsv in the knowledge folder."""
        if not self.settings.thesaurus:
            return Thesaurus()
        return Thesaurus.load(self.settings.knowledge_dir, PACKAGED)

    def reader(self) -> IndexReader:
        """The live index; a newer generation or an edited thesaurus file is picked up on the next question.

        Thread-safe: a reader is never changed while questions use it. A new generation gets a new IndexReader,
        swapped in by one assignment, so a question that holds the old one finishes on the old generation."""
        stamp = thesaurus_stamp(self.settings.knowledge_dir) if self.settings.thesaurus else ()
        ensure_intact(self.kb_dir)  # a damaged index file is named with its repair, not left to the reader's traceback
        gen = current_generation(self.kb_dir)
        reader = self._reader
        if reader is not None and reader.gen == gen and stamp == self._thesaurus_stamp:
            return reader
        with self._reader_lock:  # one thread loads the new generation; the others wait for it instead of loading it too
            reader = self._reader
            if reader is None or reader.gen != gen or stamp != self._thesaurus_stamp:
                reader = IndexReader(self.kb_dir, self.thesaurus())
            self._reader, self._thesaurus_stamp = reader, stamp
            return reader

    @property
    def jobs(self):  # -> IngestJobs (assistant.app.jobs imports this module)
        """The background index updates of this knowledge base: one at a time, with progress and cancel."""
        with self._lock:
            if self._jobs is None:
                from assistant.app.jobs import IngestJobs

                self._jobs = IngestJobs(self)
            return self._jobs

    def check_question(self, question: str) -> None:
        """Refuse an empty question, or one longer than max_question_chars, before any work is done on it."""
        if not question.strip():
            raise error("empty_question")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise error("question_too_long", length=len(question), limit=limit)

    # ------------------------------------------------------------ knowledge base

    def _excluded(self) -> set[str]:
        path = self.kb_dir / "excluded.json"
        return set(json.loads(path.read_text("utf-8"))) if path.is_file() else set()

    def _kinds(self) -> dict[str, str]:
        path = self.kb_dir / "kinds.json"
        return json.loads(path.read_text("utf-8")) if path.is_file() else {}

    def ingest(self, progress: Progress | None = None, force: bool = False, show_bar: bool = True) -> IngestReport:
        report = ingest(
            self.sources(),
            self.kb_dir,
            self.embedder,
            max_chars=self.settings.chunk_max_chars,
            kinds=self._kinds(),
            excluded=self._excluded(),
            progress=progress,
            show_bar=show_bar,
            force=force,
            bm25=(self.settings.bm25_k1, self.settings.bm25_b),
            chroma_url=self.settings.chroma_url,
        )
        log.info("ingest kb=%s: %d chunks, %d embedded, %d files failed, %.1f s", self.settings.kb, report.chunks, report.embedded, len(report.failures), report.seconds)
        for f in report.failures:
            log.warning("ingest kb=%s: %s", self.settings.kb, f.error)
        if report.changed and self._reader is not None:
            self.reader()  # load the new generation now, not on the next question
        return report

    def add_files(self, paths: Sequence[Path], kind: str = "", progress: Progress | None = None) -> IngestReport:
        """Copy files into this KB's uploads folder and ingest them.

        Each file succeeds or fails on its own: a missing, unsupported, empty, over-large or duplicate
        file is reported and not copied; one that fails to parse is taken out again (or its previous
        upload restored), so the uploads folder only holds what the index holds.
        """
        if kind and kind not in DOC_KINDS:
            raise error("unknown_kind", kind=kind, allowed="、".join(DOC_KINDS))
        check_required(self.sources())  # before copying anything: the ingest would refuse
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        kinds = self._kinds()
        excluded = self._excluded()
        refused: list[FileResult] = []
        known = {d.sha256: d.path for d in self.documents() if d.sha256}
        backups: dict[str, bytes | None] = {}
        for p in map(Path, paths):
            rel = f"uploads/{p.name}"
            if not p.is_file():
                refused.append(FileResult(rel, "failed", error=f"{p}: 文件不存在 — 检查路径"))
                continue
            if not supported(p):
                exts = " ".join(sorted(LOADERS))
                refused.append(FileResult(rel, "skipped", error=f"{p.name}: 文件类型 {p.suffix or '（无扩展名）'} 不受支持 — 转换为以下类型之一：{exts}"))
                continue
            try:
                check_size(p)
                digest = file_hash(p.read_bytes())
            except IngestError as e:
                refused.append(FileResult(rel, "failed", error=str(e)))
                continue
            same = known.get(digest)
            if same and same != rel:
                refused.append(FileResult(rel, "duplicate", error=f"{p.name}: 与知识库中的 {same} 内容相同 — 不必重复导入"))
                continue
            known[digest] = rel
            target = self.uploads_dir / p.name
            if rel not in backups:
                backups[rel] = target.read_bytes() if target.is_file() else None
            if target.resolve() != p.resolve():
                shutil.copy2(p, target)
            excluded.discard(rel)
            if kind:
                kinds[rel] = kind
            else:
                kinds.pop(rel, None)
        self.kb_dir.mkdir(parents=True, exist_ok=True)
        (self.kb_dir / "kinds.json").write_text(json.dumps(kinds, ensure_ascii=False), "utf-8")
        (self.kb_dir / "excluded.json").write_text(json.dumps(sorted(excluded), ensure_ascii=False), "utf-8")
        if not backups:
            return IngestReport(files=refused)
        try:
            report = self.ingest(progress=progress, show_bar=progress is None)
        except BaseException:  # cancelled or failed: the uploads folder goes back to what the live index holds
            for rel in backups:
                self._restore(rel, backups[rel])
            raise
        for f in report.files:
            if f.path in backups and f.status == "failed":
                self._restore(f.path, backups[f.path])
        report.files = refused + report.files
        return report

    def _restore(self, rel: str, previous: bytes | None) -> None:
        target = self.kb_dir / rel
        if previous is None:
            target.unlink(missing_ok=True)
        else:
            target.write_bytes(previous)

    def promote(self, name: str, progress: Progress | None = None) -> tuple[str, IngestReport]:
        """An admin's decision: move an upload into the knowledge folder, so it becomes 正式文件, and re-ingest.
        Returns the new path in the index (the file name in the knowledge folder) and the ingest report."""
        rel = self.resolve(name)
        if not rel.startswith(UPLOADS_PREFIX):
            raise error("promote_not_upload", name=name)
        source = self.kb_dir / rel
        target = self.settings.knowledge_dir / rel.removeprefix(UPLOADS_PREFIX)
        if target.exists():
            raise error("promote_exists", path=target)
        check_required(self.sources())
        try:
            shutil.move(source, target)
        except OSError as e:
            raise error("promote_cannot_move", name=rel, folder=self.settings.knowledge_dir, reason=e.strerror or e) from None
        kinds = self._kinds()
        if rel in kinds:
            kinds[target.name] = kinds.pop(rel)
            (self.kb_dir / "kinds.json").write_text(json.dumps(kinds, ensure_ascii=False), "utf-8")
        log.info("promote kb=%s: %s -> %s", self.settings.kb, rel, target)
        return target.name, self.ingest(progress=progress, show_bar=progress is None)

    def resolve(self, name: str) -> str:
        """A document's path in this KB from its path, file name or title."""
        entries = [e for e in self.document_status() if e.status != "skipped"]
        matches: tuple[Callable[[DocumentStatus], bool], ...] = (
            lambda e: e.path == name,
            lambda e: Path(e.path).name == name,
            lambda e: Path(e.path).stem == name,
            lambda e: e.title == name,
        )
        for match in matches:
            found = sorted({e.path for e in entries if match(e)})
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise error("doc_ambiguous", name=name, found="、".join(found))
        raise error("doc_not_found", name=name, kb=self.settings.kb)

    def remove_file(self, rel: str, progress: Progress | None = None) -> IngestReport:
        rel = self.resolve(rel)
        upload = self.kb_dir / rel
        if rel.startswith("uploads/") and upload.is_file():
            upload.unlink()
            kinds = self._kinds()
            if kinds.pop(rel, None) is not None:
                (self.kb_dir / "kinds.json").write_text(json.dumps(kinds, ensure_ascii=False), "utf-8")
        else:  # files in the user's own folder are never deleted, only excluded
            excluded = self._excluded() | {rel}
            (self.kb_dir / "excluded.json").write_text(json.dumps(sorted(excluded), ensure_ascii=False), "utf-8")
        return self.ingest(progress=progress, show_bar=progress is None)

    def diagnose(self) -> AssistantError | None:
        """After an unexpected error: the damaged index file behind it as one line with the fix, or None."""
        from assistant.index.store import diagnose

        return diagnose(self.kb_dir)

    def index_problem(self) -> tuple[str, str]:
        """(generation name, first problem) of the live index; the problem is "" when it reads back whole."""
        from assistant.index.store import check_generation, current_generation, lost_manifest

        gen = current_generation(self.kb_dir)
        if gen is None:
            return "", lost_manifest(self.kb_dir) or "没有索引"
        return gen.name, check_generation(gen)

    def document_status(self) -> list[DocumentStatus]:
        """Every document with its status (indexed / pending / changed / failed / duplicate / ...) and the reason."""
        return document_status(self.sources(), self.kb_dir, self._kinds(), self._excluded())

    def documents(self) -> list[IndexedDocument]:
        """The files in the live index, by path."""
        files = read_manifest(current_generation(self.kb_dir))["files"]
        return [IndexedDocument.from_manifest(rel, entry) for rel, entry in sorted(files.items())]

    def stats(self) -> KbStats:
        gen = current_generation(self.kb_dir)
        manifest = read_manifest(gen)
        kinds: dict[str, int] = {}
        for f in manifest["files"].values():
            kinds[f.get("kind", "other")] = kinds.get(f.get("kind", "other"), 0) + 1
        size = sum(p.stat().st_size for p in gen.rglob("*") if p.is_file()) if gen else 0
        return KbStats(
            kb=self.settings.kb,
            generation=gen.name if gen else None,
            documents=len(manifest["files"]),
            chunks=manifest.get("chunks", 0),
            kinds=kinds,
            embedder=manifest.get("embedder", ""),
            errors=dict(manifest.get("errors", {})),
            index_bytes=size,
            knowledge_bases=tuple(list_kbs(self.settings.index_dir)),
        )

    # ------------------------------------------------------------ retrieval and answers

    def reworded(self, query: str) -> tuple[str, ...]:
        """The question in the regulations' wording from the LLM (ASSISTANT_QUERY_REWRITE=llm), else nothing."""
        if self.reworder is None:
            return ()
        text = self.reworder(query)
        return (text,) if text else ()

    def chunks_of(self, kind: str) -> list[Chunk]:
        """Every chunk of one document kind in the live index (drafting learns the report style from them)."""
        return [c for c in self.reader().chunks if c.kind == kind]

    def token_weights(self) -> tuple[dict[str, float], float]:
        reader = self.reader()
        return reader.idf, reader.max_idf

    def search(
        self,
        query: str,
        k: int | None = None,
        mode: str | None = None,
        kinds: Sequence[str] = (),
        extra: tuple[str, ...] | None = None,
        reader: IndexReader | None = None,
        repealed: frozenset[str] | None = None,
    ) -> list[Hit]:
        """Top-k hits; ``kinds`` keeps only chunks of those document kinds (drafting asks for regulations or lists).
        ``extra``: rewordings searched beside the question (default: the LLM's regulation wording, when configured).
        ``repealed``: the 已废止 titles when the caller has read them already (default: read 废止.txt)."""
        self.check_question(query)
        repealed = self.repealed() if repealed is None else repealed
        extra = self.reworded(query) if extra is None else extra
        mode = mode or self.settings.mode
        retriever = self.retriever(mode, reader or self.reader())
        k = k or self.settings.top_k
        if not kinds:
            return mark_repealed_hits(official_first(retriever.search(query, k, extra)), repealed)
        # Over-fetch, then filter: the wanted kind may be a small share of the index.
        wanted = [h for h in retriever.search(query, max(k * 10, 80), extra) if h.chunk.kind in kinds][:k]
        return mark_repealed_hits(official_first(wanted), repealed)

    def retriever(self, mode: str, reader: IndexReader, rerank: bool = True) -> Retriever:
        """The configured retriever over ``reader``; ``rerank=False`` leaves the fused order as it is (to fit a
        reranker on)."""
        s = self.settings
        if rerank and mode not in self._rerankers:
            self._rerankers[mode] = self._reranker_factory(mode)
        return make_retriever(
            mode,
            reader,
            None if mode == "bm25" else self.embedder,
            s.rrf_k,
            s.dense_weight,
            s.coverage_weight,
            s.expansion_weight if s.thesaurus else 0.0,
            s.per_doc,
            s.list_weight,
            self._rerankers[mode] if rerank else None,
        )

    def forget_rerankers(self) -> None:
        """Read the rerankers again at the next search (after a new fit was written)."""
        self._rerankers.clear()

    def repealed(self) -> frozenset[str]:
        """Titles an admin marked 已废止 (废止.txt in the knowledge folder): searchable as history, never answered from."""
        return repealed_titles(self.settings.knowledge_dir)

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), mode: str | None = None) -> Answer:
        return final_answer(self.stream_ask(question, history, mode))

    def stream_ask(self, question: str, history: Sequence[tuple[str, str]] = (), mode: str | None = None) -> Iterator[str | Answer]:
        """Yield answer text deltas, then the verified Answer. History only shapes the query, never the context.
        With the LLM answerer a provisional Answer (the extractive one, Answer.provisional) comes first; the last is final."""
        t0 = time.perf_counter()
        self.check_question(question)
        query = self.rewriter(question, history) if history else question
        extra = self.reworded(query)
        reader = self.reader()  # one generation for the whole answer, even when an ingest commits meanwhile
        k = self.settings.top_k
        titles = self.repealed()  # read once: it sizes the search and marks its hits
        found = self.search(query, k=2 * k if titles else k, mode=mode, extra=extra, reader=reader, repealed=titles)
        hits, repealed = answerable(found, k)  # a 已废止 document is never answered from
        decision = self.decide(query, hits, mode, extra, reader=reader)
        for item in self.answerer.stream(question, hits, query=query, decision=decision):
            if isinstance(item, Answer):  # "2024年修改前为第N条：…" for a changed article; repealed documents left out
                item = version_notes(item, reader.chunks, reader.gen.name if reader.gen else "")
                skipped = tuple(say("note_repealed_skipped", title=t) for t in repealed)
                item = dataclasses.replace(item, notes=(*item.notes, *skipped)) if skipped else item
            if isinstance(item, Answer) and not item.provisional:
                # Question text stays out of the log: documents and questions can be sensitive.
                log.info(
                    "ask: %d chars, kb=%s, mode=%s, outcome=%s, %d citations, %.0f ms",
                    len(question), self.settings.kb, mode or self.settings.mode, item.outcome, len(item.citations), 1000 * (time.perf_counter() - t0),
                )
            yield item

    def gate(self, mode: str | None = None) -> Gate:
        """The answer gate for a retrieval mode (each mode/embedder has its own fitted model)."""
        mode = mode or self.settings.mode
        if mode not in self._gates:
            self._gates[mode] = self._gate_factory(mode)
        return self._gates[mode]

    def decide(
        self, query: str, hits: Sequence[Hit], mode: str | None = None, extra: tuple[str, ...] | None = None, reader: IndexReader | None = None
    ) -> Decision:
        """Answer, related articles only, or no basis: the gate over this question's retrieval signals."""
        reader = reader or self.reader()
        extra = self.reworded(query) if extra is None else extra
        return self.gate(mode).decide(reader.plan(query, extra), hits, reader.idf, reader.max_idf, reader.vocab)


def official_first(hits: Sequence[Hit]) -> list[Hit]:
    """Uploaded text never outranks official text that answers the question as well: an upload moves below every
    later official hit whose concept coverage (the share of the question's concepts it holds) is at least its own.
    An upload that covers more of the question than any official hit below it keeps its place; ranks are renumbered."""

    def concept(h: Hit) -> float:
        scores = dict(h.scores)
        return scores.get("concept", scores.get("coverage", 0.0))

    keys: list[float] = []
    for i, h in enumerate(hits):
        key = float(i)
        if h.chunk.provenance == "upload":
            later = [j for j in range(i + 1, len(hits)) if hits[j].chunk.provenance == "official" and concept(hits[j]) >= concept(h) - 1e-9]
            if later:
                key = later[-1] + 0.5
        keys.append(key)
    order = sorted(range(len(hits)), key=lambda i: (keys[i], i))
    return [dataclasses.replace(hits[i], rank=n + 1) for n, i in enumerate(order)]


def diagnose_index(kb_dir: Path) -> AssistantError | None:
    """The damaged index file behind an unexpected error, without building a service (the CLI's last resort)."""
    from assistant.index.store import diagnose

    return diagnose(kb_dir)
