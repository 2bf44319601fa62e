"""Composition root: the one place that turns Settings into concrete backends (embedder, answerer, gate, rewriter,
reworder, chat models) and wires them into the service and its facades."""

from __future__ import annotations

from typing import Literal

from assistant.answering.at_once import AtOnceAnswerer
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.gate import Gate, load_gate
from assistant.answering.llm import LLMAnswerer
from assistant.answering.rewrite import LLMRewriter, RegulationRewriter, heuristic_rewrite
from assistant.app.service import AssistantService
from assistant.core.messages import error
from assistant.core.protocols import Answerer, ChatModel, Embedder, Rewriter
from assistant.core.settings import Settings, offline_env
from assistant.index.embeddings import make_embedder
from assistant.index.rerank import load_rerank
from assistant.llm.chat import openai_chat_model

Purpose = Literal["answer", "draft", "rewrite", "reword"]


def build_chat_model(settings: Settings, purpose: Purpose = "answer") -> ChatModel:
    """The OpenAI-compatible chat model for one job. A rewrite or rewording is one short line, so the model may not
    ramble for llm_max_tokens; a draft section needs room for a whole paragraph."""
    if purpose == "draft":
        return openai_chat_model(settings, max_tokens=max(settings.llm_max_tokens, 1024))
    if purpose in ("rewrite", "reword"):
        return openai_chat_model(settings, max_tokens=64)
    return openai_chat_model(settings)


def build_embedder(settings: Settings) -> Embedder:
    return make_embedder(settings.embedder, settings.embed_batch, settings.embed_precision)


def build_answerer(settings: Settings) -> Answerer:
    if settings.answerer == "extractive":
        return ExtractiveAnswerer(min_relevance=settings.min_relevance)
    if settings.answerer == "llm":
        model = LLMAnswerer(build_chat_model(settings), settings.prompts_dir, min_relevance=settings.min_relevance)
        if settings.answer_at_once:  # the extractive answer at once, the model's after it when it verifies
            return AtOnceAnswerer(ExtractiveAnswerer(min_relevance=settings.min_relevance), model)
        return model
    raise error("unknown_answerer", value=settings.answerer)


def build_gate(settings: Settings, mode: str | None = None) -> Gate:
    """The multi-signal gate fitted for this mode and embedder (resources/gate.json), else the coverage threshold."""
    model = load_gate(mode or settings.mode, settings.embedder) if settings.gate == "model" else None
    return Gate(model, settings.min_relevance)


def build_reworder(settings: Settings) -> RegulationRewriter | None:
    """The LLM's rewording of a question into regulation wording, searched beside it (off by default)."""
    if settings.query_rewrite != "llm":
        return None
    return RegulationRewriter(build_chat_model(settings, "reword"), settings.prompts_dir)


def build_rewriter(settings: Settings) -> Rewriter:
    """Follow-up question -> standalone query: the LLM with the LLM answerer, else the offline heuristic."""
    if settings.answerer == "llm":
        return LLMRewriter(build_chat_model(settings, "rewrite"), settings.prompts_dir)
    return heuristic_rewrite


def build(settings: Settings | None = None) -> AssistantService:
    offline_env()
    settings = settings or Settings()
    return AssistantService(
        settings,
        embedder_factory=lambda: build_embedder(settings),
        answerer=build_answerer(settings),
        rewriter=build_rewriter(settings),
        gate_factory=lambda mode: build_gate(settings, mode),
        reworder=build_reworder(settings),
        reranker_factory=lambda mode: load_rerank(mode, settings.embedder) if settings.rerank == "model" else None,
    )
