"""A deterministic ChatModel for tests: replies come from a script, calls are recorded."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from assistant.core.protocols import Messages


class ScriptedChatModel:
    """Replies in order (or from a function of the messages); running out is an error, so tests see unexpected calls."""

    name = "scripted"

    def __init__(self, replies: Sequence[str] | Callable[[Messages], str] = (), chunk: int = 3, delay: float = 0.0) -> None:
        """``delay``: seconds before each streamed piece, a slow model (the local LLM takes seconds per sentence)."""
        self._replies: list[str] | Callable[[Messages], str] = replies if callable(replies) else list(replies)
        self.chunk = chunk
        self.delay = delay
        self.calls: list[list[tuple[str, str]]] = []

    def _next(self, messages: Messages) -> str:
        self.calls.append(list(messages))
        if callable(self._replies):
            return self._replies(messages)
        if not self._replies:
            # A test bug, never seen by a user: the script ran out.
            raise RuntimeError("ScriptedChatModel has no reply left for this call")
        return self._replies.pop(0)

    def complete(self, messages: Messages) -> str:
        return self._next(messages)

    def stream(self, messages: Messages) -> Iterator[str]:
        text = self._next(messages)
        for i in range(0, len(text), self.chunk):
            if self.delay:
                time.sleep(self.delay)
            yield text[i : i + self.chunk]
