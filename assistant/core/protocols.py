"""Small interfaces every backend implements; the composition root picks the implementation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from assistant.core.types import Answer, Hit

# A chat conversation: (role, content) pairs, role one of system/user/assistant.
Messages = Sequence[tuple[str, str]]


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class Retriever(Protocol):
    def search(self, query: str, k: int) -> list[Hit]: ...


@runtime_checkable
class Answerer(Protocol):
    def answer(self, question: str, hits: Sequence[Hit]) -> Answer: ...

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """Yield text deltas, then the final verified Answer."""
        ...


@runtime_checkable
class ChatModel(Protocol):
    """Plain chat completion: list of (role, content) -> text. Scripted in tests, OpenAI-compatible for real."""

    def complete(self, messages: Messages) -> str: ...

    def stream(self, messages: Messages) -> Iterator[str]: ...
