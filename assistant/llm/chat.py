"""Chat models behind the ChatModel protocol: any OpenAI-compatible server through langchain-openai."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from assistant.core.errors import AssistantError, one_line
from assistant.core.messages import error
from assistant.core.protocols import Messages
from assistant.core.settings import Settings


class OpenAIChatModel:
    """Any OpenAI-compatible server (llama-server, Ollama, vLLM, DeepSeek, DashScope, Zhipu) through langchain-openai."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        temperature: float = 0.1,
        max_tokens: int = 512,
        timeout: float = 120.0,
    ) -> None:
        self.base_url, self.model, self.timeout = base_url, model, timeout
        self._kwargs = dict(
            base_url=base_url,
            model=model,
            api_key=api_key or "none",  # the client refuses an empty key; local servers may not need one
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout,
            max_retries=1,
        )
        self._llm = None

    @property
    def llm(self):
        if self._llm is None:
            from langchain_openai import ChatOpenAI

            self._llm = ChatOpenAI(**self._kwargs)
        return self._llm

    @staticmethod
    def to_langchain(messages: Messages) -> list:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        kinds = {"system": SystemMessage, "user": HumanMessage, "human": HumanMessage, "assistant": AIMessage, "ai": AIMessage}
        out = []
        for role, content in messages:
            if role not in kinds:
                raise ValueError(f"unknown chat role {role!r}")
            out.append(kinds[role](content=content))
        return out

    def complete(self, messages: Messages) -> str:
        import openai

        try:
            return _text(self.llm.invoke(self.to_langchain(messages)).content)
        except openai.OpenAIError as e:
            raise self._error(e) from e

    def stream(self, messages: Messages) -> Iterator[str]:
        import openai

        try:
            for chunk in self.llm.stream(self.to_langchain(messages)):
                text = _text(chunk.content)
                if text:
                    yield text
        except openai.OpenAIError as e:
            raise self._error(e) from e

    def _error(self, e: Exception) -> AssistantError:
        """The client's exception as a one-line AssistantError with the fix."""
        import openai

        if isinstance(e, openai.APITimeoutError):
            return error("llm_timeout", url=self.base_url, seconds=f"{self.timeout:.0f}")
        if isinstance(e, openai.APIConnectionError):
            return error("llm_unreachable", url=self.base_url)
        if isinstance(e, openai.AuthenticationError):
            return error("llm_key_rejected", url=self.base_url)
        if isinstance(e, openai.NotFoundError):
            return error("llm_model_not_found", url=self.base_url, model=self.model)
        if isinstance(e, openai.APIStatusError):
            return error("llm_status", status=e.status_code, detail=one_line(str(e)[:200]))
        return error("llm_status", status=type(e).__name__, detail=one_line(str(e)[:200]))


def _text(content: str | Iterable[object] | None) -> str:
    if isinstance(content, str):
        return content
    # Some providers return a list of content parts.
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content or ())


def openai_chat_model(settings: Settings, max_tokens: int | None = None) -> OpenAIChatModel:
    return OpenAIChatModel(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key.get_secret_value(),
        temperature=settings.llm_temperature,
        max_tokens=max_tokens or settings.llm_max_tokens,
        timeout=settings.llm_timeout,
    )
