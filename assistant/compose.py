"""Composition root: the one place that turns Settings into concrete backends."""

from __future__ import annotations

from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.gate import Gate, load_gate
from assistant.answering.llm import LLMAnswerer, openai_chat_model
from assistant.answering.rewrite import make_rewriter
from assistant.embeddings import make_embedder
from assistant.service import AssistantService
from assistant.settings import Settings, offline_env
from assistant.types import AssistantError


def build_answerer(settings: Settings):
    if settings.answerer == "extractive":
        return ExtractiveAnswerer(min_relevance=settings.min_relevance)
    if settings.answerer == "llm":
        return LLMAnswerer(openai_chat_model(settings), settings.prompts_dir, min_relevance=settings.min_relevance)
    raise AssistantError(f"unknown answerer {settings.answerer!r}", "use extractive or llm")


def build_gate(settings: Settings) -> Gate:
    """The fitted multi-signal gate (resources/gate.json), or the single coverage threshold when asked for."""
    return Gate(load_gate() if settings.gate == "model" else None, settings.min_relevance)


def build_rewriter(settings: Settings):
    return make_rewriter(settings)


def build(settings: Settings | None = None) -> AssistantService:
    offline_env()
    settings = settings or Settings()
    return AssistantService(
        settings,
        embedder_factory=lambda: make_embedder(settings.embedder, settings.embed_batch),
        answerer=build_answerer(settings),
        rewriter=build_rewriter(settings),
        gate=build_gate(settings),
    )
