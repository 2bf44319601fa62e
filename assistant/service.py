"""The application service: what the CLI and the UI call. Holds no UI or backend specifics."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from assistant.protocols import Answerer, Embedder
from assistant.retrieval import IndexReader, make_retriever
from assistant.settings import Settings
from assistant.store import current_generation, list_kbs, read_manifest
from assistant.types import Answer, AssistantError, Hit
from ingest.loaders import supported
from ingest.pipeline import IngestReport, Progress, Source, ingest

Rewriter = Callable[[str, Sequence[tuple[str, str]]], str]


def keep_question(question: str, history: Sequence[tuple[str, str]]) -> str:
    return question


class AssistantService:
    def __init__(
        self,
        settings: Settings,
        embedder_factory: Callable[[], Embedder],
        answerer: Answerer,
        rewriter: Rewriter = keep_question,
    ) -> None:
        self.settings = settings
        self._embedder_factory = embedder_factory
        self._embedder: Embedder | None = None
        self.answerer = answerer
        self.rewriter = rewriter
        self._reader: IndexReader | None = None
        self._lock = threading.Lock()

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
        return [Source(self.settings.knowledge_dir), Source(self.uploads_dir, "uploads/")]

    def reader(self) -> IndexReader:
        if self._reader is None:
            self._reader = IndexReader(self.kb_dir)
        else:
            self._reader.refresh()
        return self._reader

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
        )
        if self._reader is not None:
            self._reader.refresh()
        return report

    def add_files(self, paths: Sequence[Path], kind: str = "", progress: Progress | None = None) -> IngestReport:
        """Copy files into this KB's uploads folder and ingest. Unsupported files are refused before copying."""
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        kinds = self._kinds()
        excluded = self._excluded()
        for p in paths:
            p = Path(p)
            if not p.is_file():
                raise AssistantError(f"{p}: no such file", "check the path")
            if not supported(p):
                raise AssistantError(f"{p.name}: unsupported file type {p.suffix or '(none)'}", "use .md .txt .docx .pdf .xlsx .csv .html")
            shutil.copy2(p, self.uploads_dir / p.name)
            rel = f"uploads/{p.name}"
            excluded.discard(rel)
            if kind:
                kinds[rel] = kind
        self.kb_dir.mkdir(parents=True, exist_ok=True)
        (self.kb_dir / "kinds.json").write_text(json.dumps(kinds, ensure_ascii=False), "utf-8")
        (self.kb_dir / "excluded.json").write_text(json.dumps(sorted(excluded), ensure_ascii=False), "utf-8")
        return self.ingest(progress=progress, show_bar=progress is None)

    def remove_file(self, rel: str, progress: Progress | None = None) -> IngestReport:
        files = self.documents()
        if rel not in files:
            raise AssistantError(f"{rel}: not in knowledge base {self.settings.kb}", "see `assistant kb list` for the names")
        upload = self.kb_dir / rel
        if rel.startswith("uploads/") and upload.is_file():
            upload.unlink()
        else:  # files in the user's own folder are never deleted, only excluded
            excluded = self._excluded() | {rel}
            (self.kb_dir / "excluded.json").write_text(json.dumps(sorted(excluded), ensure_ascii=False), "utf-8")
        return self.ingest(progress=progress, show_bar=progress is None)

    def documents(self) -> dict[str, dict]:
        return read_manifest(current_generation(self.kb_dir))["files"]

    def stats(self) -> dict:
        gen = current_generation(self.kb_dir)
        manifest = read_manifest(gen)
        kinds: dict[str, int] = {}
        for f in manifest["files"].values():
            kinds[f.get("kind", "other")] = kinds.get(f.get("kind", "other"), 0) + 1
        size = sum(p.stat().st_size for p in gen.rglob("*") if p.is_file()) if gen else 0
        return {
            "kb": self.settings.kb,
            "generation": gen.name if gen else None,
            "documents": len(manifest["files"]),
            "chunks": manifest.get("chunks", 0),
            "kinds": kinds,
            "embedder": manifest.get("embedder", ""),
            "errors": manifest.get("errors", {}),
            "index_bytes": size,
            "knowledge_bases": list_kbs(self.settings.index_dir),
        }

    # ------------------------------------------------------------ retrieval and answers

    def search(self, query: str, k: int | None = None, mode: str | None = None, kinds: Sequence[str] = ()) -> list[Hit]:
        """Top-k hits; ``kinds`` keeps only chunks of those document kinds (drafting asks for regulations or lists)."""
        if not query.strip():
            raise AssistantError("the question is empty", "type a question")
        mode = mode or self.settings.mode
        reader = self.reader()
        retriever = make_retriever(mode, reader, None if mode == "bm25" else self.embedder, self.settings.rrf_k)
        k = k or self.settings.top_k
        if not kinds:
            return retriever.search(query, k)
        # Over-fetch, then filter: the wanted kind may be a small share of the index.
        wanted = [h for h in retriever.search(query, max(k * 10, 80)) if h.chunk.kind in kinds][:k]
        return [dataclasses.replace(h, rank=n + 1) for n, h in enumerate(wanted)]

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), mode: str | None = None) -> Answer:
        final = None
        for item in self.stream_ask(question, history, mode):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream_ask(self, question: str, history: Sequence[tuple[str, str]] = (), mode: str | None = None) -> Iterator[str | Answer]:
        """Yield answer text deltas, then the verified Answer. History only shapes the query, never the context."""
        query = self.rewriter(question, history) if history else question
        hits = self.search(query, mode=mode)
        yield from self.answerer.stream(question, hits, query=query)
