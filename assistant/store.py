"""On-disk index of one knowledge base, written in generations so a failed ingest never damages the last good one.

Layout of ``kb_dir``::

    CURRENT            name of the live generation (replaced atomically)
    gen-<time>/        chunks.jsonl, manifest.json, bm25/, chroma/
    .lock              held by the one writer
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from assistant.types import AssistantError, Chunk

COLLECTION = "chunks"


def chunk_to_json(c: Chunk, tokens: Sequence[str]) -> str:
    d = dataclasses.asdict(c)
    d["tokens"] = list(tokens)
    return json.dumps(d, ensure_ascii=False)


def chunk_from_json(line: str) -> tuple[Chunk, list[str]]:
    d = json.loads(line)
    tokens = d.pop("tokens", [])
    d["path"] = tuple(d.get("path", ()))
    d["extra"] = tuple(tuple(x) for x in d.get("extra", ()))
    return Chunk(**d), tokens


def _fsync_write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def current_generation(kb_dir: Path) -> Path | None:
    pointer = kb_dir / "CURRENT"
    if not pointer.is_file():
        return None
    gen = kb_dir / pointer.read_text(encoding="utf-8").strip()
    return gen if (gen / "manifest.json").is_file() else None


def read_manifest(gen: Path | None) -> dict:
    if gen is None:
        return {"files": {}, "embedder": "", "errors": {}}
    return json.loads((gen / "manifest.json").read_text(encoding="utf-8"))


def read_chunks(gen: Path | None) -> tuple[list[Chunk], list[list[str]]]:
    if gen is None:
        return [], []
    chunks, tokens = [], []
    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                c, t = chunk_from_json(line)
                chunks.append(c)
                tokens.append(t)
    return chunks, tokens


def chroma_client(path: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))


@contextmanager
def writer_lock(kb_dir: Path) -> Iterator[None]:
    kb_dir.mkdir(parents=True, exist_ok=True)
    with open(kb_dir / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AssistantError(f"another ingest is running on {kb_dir}", "wait for it to finish, then retry") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class GenerationWriter:
    """Builds a new generation beside the live one; ``commit`` flips CURRENT, anything else leaves it untouched."""

    def __init__(self, kb_dir: Path) -> None:
        self.kb_dir = kb_dir
        self.previous = current_generation(kb_dir)
        self.path = kb_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
        self._client = None

    def open_collection(self, dim: int, embedder: str):
        """A chroma collection seeded with the previous generation's vectors, so only new chunks are embedded."""
        chroma_dir = self.path / "chroma"
        prev_meta = read_manifest(self.previous)
        if self.previous and (self.previous / "chroma").is_dir() and prev_meta.get("embedder") == embedder:
            shutil.copytree(self.previous / "chroma", chroma_dir)
        else:
            chroma_dir.mkdir(parents=True, exist_ok=True)
        self._client = chroma_client(chroma_dir)
        return self._client.get_or_create_collection(
            COLLECTION, metadata={"hnsw:space": "cosine", "embedder": embedder, "dim": dim}, embedding_function=None
        )

    def write_chunks(self, chunks: Sequence[Chunk], tokens: Sequence[Sequence[str]]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _fsync_write(self.path / "chunks.jsonl", "".join(chunk_to_json(c, t) + "\n" for c, t in zip(chunks, tokens)))

    def write_bm25(self, tokens: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.5) -> None:
        import bm25s

        model = bm25s.BM25(k1=k1, b=b)
        # An empty document list still needs a vocabulary; index one empty token list.
        model.index([list(t) or [""] for t in tokens] or [[""]], show_progress=False)
        model.save(str(self.path / "bm25"), show_progress=False)

    def commit(self, manifest: dict) -> Path:
        _fsync_write(self.path / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        if self._client is not None:
            self._client = None  # let chroma flush before the switch
        tmp = self.kb_dir / "CURRENT.tmp"
        _fsync_write(tmp, self.path.name)
        os.replace(tmp, self.kb_dir / "CURRENT")
        self._prune()
        return self.path

    def abort(self) -> None:
        self._client = None
        shutil.rmtree(self.path, ignore_errors=True)

    def _prune(self) -> None:
        """Keep the live generation and the one before it (a reader may still hold it); drop the rest."""
        keep = {self.path.name, self.previous.name if self.previous else ""}
        for p in self.kb_dir.glob("gen-*"):
            if p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)


def list_kbs(index_dir: Path) -> list[str]:
    if not index_dir.is_dir():
        return []
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir() and current_generation(p))
