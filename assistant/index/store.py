"""On-disk index of one knowledge base, written in generations so a failed ingest never damages the last good one.

Layout of ``kb_dir``::

    CURRENT            name of the live generation (replaced atomically)
    gen-<time>/        chunks.jsonl, manifest.json, bm25/, chroma/
    .lock              held by the one writer

With a chroma server (ASSISTANT_CHROMA_URL) a generation's vectors live in the server's collection
``kb-<hash of the kb name>-<generation>`` instead of ``chroma/``; the manifest's ``vectors`` entry names the server and
the collection, so every process that reads the shared index folder finds them. Pruning a generation drops its collection.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.core.errors import AssistantError
from assistant.core.messages import error, text
from assistant.core.types import Chunk

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

COLLECTION = "chunks"
log = logging.getLogger(__name__)

# The HNSW index of a new generation's collection. chroma's default ef_search (100) misses about one true neighbour in
# eight at 100k chunks (benchmarks/bench_index.py, README "Benchmarks"); searching wider finds them for a few ms more
# per query, while a denser graph (M 32, ef_construction 200) recalled about as much for the same query time at 100k and
# slowed ingest by 1.7x; at 1M it recalled 0.925 against 0.884 at 16 ms a query but its inserts took 2.9x as long. M and ef_construction stay chroma's, so a generation seeded from an older one keeps its graph and
# only its ef_search is raised; older generations keep the parameters they were built with.
HNSW: dict[str, Any] = {"space": "cosine", "max_neighbors": 16, "ef_construction": 100, "ef_search": 1600}
_CHUNK_FIELDS = tuple(f.name for f in dataclasses.fields(Chunk))


def chunk_to_json(c: Chunk, tokens: Sequence[str]) -> str:
    # The fields as they are (str, bool, int and tuples of str): dataclasses.asdict deep-copies each one, which was
    # most of the time it took to write chunks.jsonl. Same dict, same JSON.
    d: dict[str, Any] = {name: getattr(c, name) for name in _CHUNK_FIELDS}
    d["tokens"] = list(tokens)
    return json.dumps(d, ensure_ascii=False)


# Fields whose values repeat across chunks (a document's title, its source, 第一条): read_chunks keeps one string each.
_SHARED_FIELDS = ("doc_id", "title", "kind", "article", "version", "superseded_by", "source")


def chunk_from_json(line: str, pool: dict[str, str] | None = None) -> tuple[Chunk, list[str]]:
    """A chunk and its tokens from one chunks.jsonl line. With ``pool``, repeated strings (tokens, titles, paths) are
    shared across the chunks read with it: json.loads makes a new string for each, which at 1M chunks was most of
    the reader's memory."""
    d = json.loads(line)
    share = (pool if pool is not None else {}).setdefault
    tokens = [share(t, t) for t in d.pop("tokens", [])]
    for name in _SHARED_FIELDS:
        if name in d:
            d[name] = share(d[name], d[name])
    d["path"] = tuple(share(x, x) for x in d.get("path", ()))
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


def read_manifest(gen: Path | None) -> dict[str, Any]:
    if gen is None:
        return {"files": {}, "embedder": "", "errors": {}}
    manifest: dict[str, Any] = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def read_chunks(gen: Path | None) -> tuple[list[Chunk], list[list[str]]]:
    if gen is None:
        return [], []
    chunks, tokens = [], []
    pool: dict[str, str] = {}
    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                c, t = chunk_from_json(line, pool)
                chunks.append(c)
                tokens.append(t)
    return chunks, tokens


def chroma_client(path: Path) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))


_SERVERS: dict[str, ClientAPI] = {}


def chroma_server(url: str) -> ClientAPI:
    """A client of the chroma server at ``url`` (http://host:port), one per URL and process."""
    from urllib.parse import urlparse

    if url in _SERVERS:
        return _SERVERS[url]
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise error("chroma_url_invalid", url=url)
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    try:
        client = chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        client.heartbeat()
    except Exception as e:  # noqa: BLE001 - a boundary: chroma's client raises its own and httpx's errors
        raise error("chroma_server_unreachable", url=url, reason=type(e).__name__) from None
    _SERVERS[url] = client
    return client


def collection_name(gen: Path) -> str:
    """The server collection of a generation: the kb's name hashed (it may be Chinese) plus the generation's name."""
    import hashlib

    return f"kb-{hashlib.sha256(gen.parent.name.encode()).hexdigest()[:12]}-{gen.name}"


def generation_collection(gen: Path, manifest: dict[str, Any] | None = None) -> Collection:
    """The vectors of a committed generation: in the chroma server its manifest names, else in its chroma/ folder."""
    vectors = (manifest if manifest is not None else read_manifest(gen)).get("vectors") or {}
    if vectors.get("url"):
        return chroma_server(vectors["url"]).get_collection(vectors["collection"])
    return chroma_client(gen / "chroma").get_collection(COLLECTION)


def _drop_collection(url: str, name: str) -> None:
    try:
        chroma_server(url).delete_collection(name)
    except Exception:  # noqa: BLE001 - already gone, or the server is down: an orphan collection, logged
        log.info("chroma server %s: collection %s not dropped", url, name, exc_info=True)


def hnsw_parameters(collection: Collection) -> dict[str, Any]:
    """The HNSW parameters a collection was created (or last modified) with."""
    return dict((collection.configuration or {}).get("hnsw") or {})


def _same_graph(collection: Collection) -> bool:
    """Whether a collection's HNSW graph was built with the distance, M and ef_construction of ``HNSW``."""
    built = hnsw_parameters(collection)
    return all(built.get(key) == HNSW[key] for key in ("space", "max_neighbors", "ef_construction"))


def _copy_vectors(source: Collection, target: Collection, batch: int = 2000) -> None:
    """Every vector (with its metadata) of ``source`` into ``target``, a page at a time."""
    total = source.count()
    for offset in range(0, total, batch):
        page = source.get(include=["embeddings", "metadatas"], limit=batch, offset=offset)
        if page["ids"]:
            target.add(ids=page["ids"], embeddings=page["embeddings"], metadatas=page["metadatas"])


@contextmanager
def writer_lock(kb_dir: Path) -> Iterator[None]:
    kb_dir.mkdir(parents=True, exist_ok=True)
    with open(kb_dir / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise error("kb_locked", kb=kb_dir.name, path=kb_dir) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class GenerationWriter:
    """Builds a new generation beside the live one; ``commit`` flips CURRENT, anything else leaves it untouched."""

    def __init__(self, kb_dir: Path, seed: bool = True, chroma_url: str = "") -> None:
        """``seed=False``: start empty instead of from the previous generation's vectors (it is damaged).
        ``chroma_url``: the chroma server to keep the vectors in ("" = an embedded chroma in the generation's folder)."""
        self.kb_dir = kb_dir
        self.previous = current_generation(kb_dir)
        self.seed = seed
        self.chroma_url = chroma_url.strip()
        self.path = kb_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
        self._client: ClientAPI | None = None

    def open_collection(self, dim: int, embedder: str) -> Collection:
        """A chroma collection seeded with the previous generation's vectors, so only new chunks are embedded; its
        HNSW index has the parameters of ``HNSW``."""
        chroma_dir = self.path / "chroma"
        prev_meta = read_manifest(self.previous) if self.seed else {}
        seed_from = self.previous if self.seed and self.previous and prev_meta.get("embedder") == embedder else None
        metadata = {"embedder": embedder, "dim": dim}
        configuration: Any = {"hnsw": dict(HNSW)}  # chroma's CreateCollectionConfiguration (a TypedDict)
        if self.chroma_url:
            self.path.mkdir(parents=True, exist_ok=True)
            server = chroma_server(self.chroma_url)
            name = collection_name(self.path)
            collection = server.get_or_create_collection(name, configuration=configuration, metadata=metadata, embedding_function=None)
            if seed_from is not None:
                try:
                    _copy_vectors(generation_collection(seed_from, prev_meta), collection)
                except AssistantError:
                    raise
                except Exception:  # noqa: BLE001 - the previous vectors do not read back: embed everything instead
                    log.warning("seeding %s from %s failed; embedding every chunk", name, seed_from, exc_info=True)
                    server.delete_collection(name)
                    collection = server.create_collection(name, configuration=configuration, metadata=metadata, embedding_function=None)
            return collection
        if seed_from is not None and (seed_from / "chroma").is_dir():
            shutil.copytree(seed_from / "chroma", chroma_dir)
            self._client = client = chroma_client(chroma_dir)
            collection = client.get_collection(COLLECTION)
            if _same_graph(collection):
                if hnsw_parameters(collection).get("ef_search") != HNSW["ef_search"]:  # an older generation's setting
                    collection.modify(configuration={"hnsw": {"ef_search": HNSW["ef_search"]}})
                return collection
            # Built with other M / ef_construction, which chroma cannot change: the vectors go into a new graph.
            log.info("the vectors of %s go into an HNSW index with the parameters %s", seed_from.name, HNSW)
            client.delete_collection(COLLECTION)
            collection = client.create_collection(COLLECTION, configuration=configuration, metadata=metadata, embedding_function=None)
            _copy_vectors(generation_collection(seed_from, prev_meta), collection)
            return collection
        chroma_dir.mkdir(parents=True, exist_ok=True)
        self._client = client = chroma_client(chroma_dir)
        collection = client.get_or_create_collection(COLLECTION, configuration=configuration, metadata=metadata, embedding_function=None)
        if seed_from is not None and (prev_meta.get("vectors") or {}).get("url"):
            _copy_vectors(generation_collection(seed_from, prev_meta), collection)  # back from a server to embedded
        return collection

    def write_chunks(self, chunks: Sequence[Chunk], tokens: Sequence[Sequence[str]]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _fsync_write(self.path / "chunks.jsonl", "".join(chunk_to_json(c, t) + "\n" for c, t in zip(chunks, tokens)))

    def write_bm25(self, tokens: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.5) -> None:
        import bm25s

        model = bm25s.BM25(k1=k1, b=b)
        # An empty document list still needs a vocabulary; index one empty token list.
        model.index([list(t) or [""] for t in tokens] or [[""]], show_progress=False)
        model.save(str(self.path / "bm25"), show_progress=False)

    def commit(self, manifest: dict[str, Any]) -> Path:
        manifest = {**manifest, "digests": file_digests(self.path)}
        if self.chroma_url:
            manifest["vectors"] = {"url": self.chroma_url, "collection": collection_name(self.path)}
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
        if self.chroma_url:
            _drop_collection(self.chroma_url, collection_name(self.path))
        shutil.rmtree(self.path, ignore_errors=True)

    def _prune(self) -> None:
        """Keep the live generation and the one before it (a reader may still hold it); drop the rest, with their
        collections on a chroma server (the one the manifest names; for a generation that never committed, this writer's)."""
        keep = {self.path.name, self.previous.name if self.previous else ""}
        for p in self.kb_dir.glob("gen-*"):
            if p.name not in keep:
                try:
                    vectors = read_manifest(p).get("vectors") or {} if (p / "manifest.json").is_file() else {}
                except (OSError, ValueError):
                    vectors = {}
                url = vectors.get("url") or self.chroma_url
                if url:
                    _drop_collection(url, vectors.get("collection") or collection_name(p))
                shutil.rmtree(p, ignore_errors=True)


def list_kbs(index_dir: Path) -> list[str]:
    if not index_dir.is_dir():
        return []
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir() and current_generation(p))


# ---------------------------------------------------------------- damage checks

# Files that never change once a generation is committed: their checksums go into the manifest. Chroma's own
# files are rewritten by readers (length.bin, the sqlite file), so chroma is checked by opening it instead.
DIGESTED = ("chunks.jsonl", "bm25")


def file_digests(gen: Path) -> dict[str, str]:
    import hashlib

    out = {}
    for name in DIGESTED:
        target = gen / name
        for p in sorted(target.rglob("*") if target.is_dir() else [target]):
            if p.is_file():
                out[p.relative_to(gen).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def check_generation(gen: Path, deep: bool = True) -> str:
    """The first damaged file of a committed generation as '相对路径：原因', or "" when it reads back whole.

    Checks the manifest, the checksums of chunks.jsonl and bm25/ (recorded at commit), that the BM25 model
    loads, and (``deep``) that chroma opens and holds one vector per chunk."""
    import sqlite3

    try:
        manifest = json.loads((gen / "manifest.json").read_text("utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            return "manifest.json：内容不完整"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"manifest.json：无法读取（{type(e).__name__}）"
    recorded = manifest.get("digests") or {}
    actual = file_digests(gen) if recorded else {}
    for rel, digest in recorded.items():
        got = actual.get(rel)
        if got is None:
            return f"{rel}：文件缺失"
        if got != digest:
            return f"{rel}：内容已损坏（校验和不符）"
    try:
        chunks, _ = read_chunks(gen)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as e:
        return f"chunks.jsonl：无法读取（{type(e).__name__}）"
    if len(chunks) != manifest.get("chunks", len(chunks)):
        return f"chunks.jsonl：应有 {manifest.get('chunks')} 段，实有 {len(chunks)} 段"
    try:
        import bm25s

        bm25s.BM25.load(str(gen / "bm25"), load_corpus=False)
    except Exception as e:  # noqa: BLE001 - a boundary: any failure to load is damage, reported to the user and logged
        log.warning("index check: bm25 of %s does not load", gen, exc_info=True)
        return f"bm25：无法加载（{type(e).__name__}）"
    if (manifest.get("vectors") or {}).get("url"):  # vectors on a chroma server: count them there
        if deep:
            try:
                count = generation_collection(gen, manifest).count()
            except AssistantError:  # an unreachable server is its own error (with its fix), not damage
                raise
            except Exception as e:  # noqa: BLE001 - a boundary: chroma raises its own error types; reported and logged
                log.warning("index check: the server collection of %s does not count", gen, exc_info=True)
                return f"chroma：无法读取向量库服务上的集合（{type(e).__name__}）"
            if count != len({c.id for c in chunks}):
                return f"chroma：应有 {len({c.id for c in chunks})} 个向量，实有 {count} 个"
        return ""
    db = gen / "chroma" / "chroma.sqlite3"
    if not db.is_file():
        return "chroma/chroma.sqlite3：文件缺失"
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            ok = con.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            return f"chroma/chroma.sqlite3：数据库损坏（{ok[:60]}）"
    except sqlite3.DatabaseError as e:
        return f"chroma/chroma.sqlite3：数据库损坏（{e}）"
    if deep:
        try:
            count = chroma_client(gen / "chroma").get_collection(COLLECTION).count()
        except Exception as e:  # noqa: BLE001 - a boundary: chroma raises its own error types; reported and logged
            log.warning("index check: chroma of %s does not open", gen, exc_info=True)
            return f"chroma：无法打开向量库（{type(e).__name__}）"
        ids = {c.id for c in chunks}
        if count != len(ids):
            return f"chroma：应有 {len(ids)} 个向量，实有 {count} 个"
    return ""


def repair_hint(kb: str) -> str:
    return text("index_damaged", path="", kb_option="" if kb == "default" else f"--kb {kb} ")[1]


def pointed_generation(kb_dir: Path) -> Path | None:
    """The generation CURRENT names, whether or not its manifest is there."""
    try:
        name = (kb_dir / "CURRENT").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return kb_dir / name if name else None


def lost_manifest(kb_dir: Path) -> str:
    """"manifest.json：文件缺失" when CURRENT names a generation whose manifest is gone, else ""."""
    gen = pointed_generation(kb_dir)
    return "manifest.json：文件缺失" if gen is not None and current_generation(kb_dir) is None else ""


def damage_error(kb_dir: Path, problem: str) -> AssistantError:
    gen = current_generation(kb_dir) or pointed_generation(kb_dir)
    kb = kb_dir.name
    return error("index_damaged", path=f"{kb_dir / gen.name if gen else kb_dir}/{problem}", kb_option="" if kb == "default" else f"--kb {kb} ")


_INTACT: set[Path] = set()  # generations this process has checked (they never change once committed)


def ensure_intact(kb_dir: Path) -> None:
    """Raise the one-line damage error when the live generation's files do not read back as committed.
    Checked once per generation and process, without opening chroma (cheap enough for the first question)."""
    gen = current_generation(kb_dir)
    if gen is None:
        if lost_manifest(kb_dir):
            raise damage_error(kb_dir, lost_manifest(kb_dir))
        return
    if gen in _INTACT:
        return
    problem = check_generation(gen, deep=False)
    if problem:
        raise damage_error(kb_dir, problem)
    _INTACT.add(gen)


def diagnose(kb_dir: Path) -> AssistantError | None:
    """After an unexpected error: the damaged index file behind it as one line with the fix, or None."""
    try:
        gen = current_generation(kb_dir)
    except OSError:
        return None
    if gen is None:
        return damage_error(kb_dir, lost_manifest(kb_dir)) if lost_manifest(kb_dir) else None
    problem = check_generation(gen)
    return damage_error(kb_dir, problem) if problem else None
