"""Composition root: the one place that turns Settings into concrete backends."""

from __future__ import annotations

from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.gate import Gate, load_gate
from assistant.answering.llm import LLMAnswerer
from assistant.answering.rewrite import RegulationRewriter, make_rewriter
from assistant.app.service import AssistantService
from assistant.core.errors import AssistantError
from assistant.core.settings import Settings, offline_env
from assistant.index.embeddings import make_embedder
from assistant.llm.chat import openai_chat_model


def build_answerer(settings: Settings):
    if settings.answerer == "extractive":
        return ExtractiveAnswerer(min_relevance=settings.min_relevance)
    if settings.answerer == "llm":
        return LLMAnswerer(openai_chat_model(settings), settings.prompts_dir, min_relevance=settings.min_relevance)
    raise AssistantError(f"unknown answerer {settings.answerer!r}", "use extractive or llm")


def build_gate(settings: Settings, mode: str | None = None) -> Gate:
    """The multi-signal gate fitted for this mode and embedder (resources/gate.json), else the coverage threshold."""
    model = load_gate(mode or settings.mode, settings.embedder) if settings.gate == "model" else None
    return Gate(model, settings.min_relevance)


def build_reworder(settings: Settings):
    """The LLM's rewording of a question into regulation wording, searched beside it (off by default)."""
    if settings.query_rewrite != "llm":
        return None
    return RegulationRewriter(openai_chat_model(settings, max_tokens=64), settings.prompts_dir)


def build_rewriter(settings: Settings):
    return make_rewriter(settings)


def build(settings: Settings | None = None) -> AssistantService:
    offline_env()
    settings = settings or Settings()
    return AssistantService(
        settings,
        embedder_factory=lambda: make_embedder(settings.embedder, settings.embed_batch, settings.embed_precision),
        answerer=build_answerer(settings),
        rewriter=build_rewriter(settings),
        gate_factory=lambda mode: build_gate(settings, mode),
        reworder=build_reworder(settings),
    )
