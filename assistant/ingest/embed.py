"""Embedding during ingest: new chunks are embedded in a background thread while later files are still being read
(torch releases the GIL in its kernels, so reading and embedding overlap), longest first over all the chunks waiting,
so that each slice holds chunks of similar length and the batches carry little padding. The thread that runs the
ingest keeps reporting progress with an estimate of the time left, and a cancel stops the embedding after the slice
in flight."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from assistant.core.protocols import Embedder
from assistant.core.types import Chunk

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

# Chunks handed to the embedder at a time: large enough for its length-sorted batches to fill up, small enough that a
# cancel or a progress update is never far away.
SLICE = 128


def remaining(seconds: float) -> str:
    """A time left as people say it: 约 40 秒 / 约 3 分钟 / 约 1.5 小时."""
    if seconds < 90:
        return f"约 {max(1, round(seconds))} 秒"
    if seconds < 90 * 60:
        return f"约 {round(seconds / 60)} 分钟"
    return f"约 {seconds / 3600:.1f} 小时"


class EmbedAhead:
    """Embeds chunks in a background thread as they are added; ``vectors_for`` waits for the ones asked for.

    A cache in front of the index: a chunk asked for that was never added (or whose text changed) is embedded then,
    so a wrong guess about which chunks need vectors costs time, never correctness."""

    def __init__(self, embedder: Embedder, *, skip: Collection[str] = (), show_bar: bool = False, slice_size: int = SLICE) -> None:
        """skip: ids of chunks that already have a vector (the previous generation's, same embedder)."""
        self.embedder = embedder
        self.slice_size = slice_size
        self._skip = set(skip)
        self._queued: set[str] = set()
        self._pending: list[Chunk] = []
        self._vectors: dict[str, tuple[str, np.ndarray]] = {}
        self._cond = threading.Condition()
        self._closed = False  # nothing more will be added
        self._stop = False  # cancelled: finish the slice in flight, then leave
        self._error: BaseException | None = None
        self.total = 0
        self.done = 0
        self._started = 0.0  # when the first slice began (for the rate)
        self._embed_secs = 0.0
        self._bar = tqdm(total=0, desc="embedding", unit="chunk", disable=not show_bar, leave=False)
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EmbedAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ feeding

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Queue chunks for embedding (ids already known or queued are ignored); re-raises an embedding failure."""
        self._raise_failure()
        new = [c for c in chunks if c.id not in self._skip and c.id not in self._queued]
        if not new:
            return
        with self._cond:
            self._queued.update(c.id for c in new)
            self._pending.extend(new)
            self.total += len(new)
            self._bar.total = self.total
            self._bar.refresh()
            self._cond.notify()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="embed-ahead", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._pending and not self._closed and not self._stop:
                        self._cond.wait()
                    if self._stop or not self._pending:
                        return
                    take, self._pending = self._pending, []
                # Longest first over everything waiting: similar lengths share a slice, so little padding.
                take.sort(key=lambda c: -len(c.retrieval_text))
                for i in range(0, len(take), self.slice_size):
                    if self._stop:
                        return
                    part = take[i : i + self.slice_size]
                    texts = [c.retrieval_text for c in part]
                    t0 = time.perf_counter()
                    if not self._started:
                        self._started = t0
                    vecs = np.asarray(self.embedder.embed_documents(texts), dtype=np.float32)
                    with self._cond:
                        self._embed_secs += time.perf_counter() - t0
                        for c, text, v in zip(part, texts, vecs):
                            self._vectors[c.id] = (text, v)
                        self.done += len(part)
                        self._cond.notify_all()
                    self._bar.update(len(part))
        except BaseException as e:  # handed to the ingest thread, which raises it (a thread's error would be lost)
            with self._cond:
                self._error = e
                self._cond.notify_all()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    # ------------------------------------------------------------------ collecting

    def eta(self) -> float | None:
        """Seconds left at the rate so far (None before the first slice is done)."""
        if not self.done or not self._started:
            return None
        rate = self.done / max(time.perf_counter() - self._started, 1e-6)
        return (self.total - self.done) / rate

    def status(self) -> str:
        """向量化 300/1140（约 40 秒）."""
        eta = self.eta()
        left = f"（剩余{remaining(eta)}）" if eta is not None and self.done < self.total else ""
        return f"向量化 {self.done}/{self.total}{left}"

    def vectors_for(self, todo: Sequence[Chunk], note: Progress, start: float = 0.5, span: float = 0.45) -> np.ndarray:
        """The vectors of ``todo`` in its order, waiting for the background thread (``note`` is called about every
        half second and may raise to cancel: the thread then stops after its slice)."""
        with self._cond:
            # Asked for but never queued (the guess of what needed vectors was wrong), or embedded under another text.
            fresh = [c for c in todo if c.id not in self._queued or (c.id in self._vectors and self._vectors[c.id][0] != c.retrieval_text)]
            for c in fresh:
                self._queued.discard(c.id)
                self._skip.discard(c.id)
                self._vectors.pop(c.id, None)
        self.add(fresh)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
                self._raise_failure()
                note(start + span * self.done / max(self.total, 1), self.status())
        except BaseException:
            self.stop()
            raise
        self._raise_failure()
        self._bar.close()
        if self.done:
            log.info("embedded %d chunks in %.1f s (%.1f chunks/s)", self.done, self._embed_secs, self.done / max(self._embed_secs, 1e-6))
        dim = getattr(self.embedder, "dim", 0)
        if not todo:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self._vectors[c.id][1] for c in todo])

    def stop(self) -> None:
        """Stop embedding (after the slice in flight) and wait for the thread; safe to call more than once."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._bar.close()


def add_vectors(collection: Any, todo: Sequence[Chunk], vectors: np.ndarray, step: int = 2000) -> None:
    """Write the vectors of ``todo`` with their chunk metadata into a chroma collection."""
    for i in range(0, len(todo), step):
        part = todo[i : i + step]
        collection.add(
            ids=[c.id for c in part],
            embeddings=vectors[i : i + step],
            metadatas=[{"doc_id": c.doc_id, "kind": c.kind, "source": c.source} for c in part],
        )
