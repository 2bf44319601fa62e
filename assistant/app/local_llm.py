"""Local LLM facade: the bundled GGUF models and the llama-server process (`assistant llm …`)."""

from __future__ import annotations

from assistant.llm.server import (
    MODELS,
    ServerConfig,
    ServerProcess,
    build_server,
    config_from_settings,
    ensure_model,
    find_binary,
    start,
    status,
    stop,
)

__all__ = [
    "MODELS",
    "ServerConfig",
    "ServerProcess",
    "build_server",
    "config_from_settings",
    "ensure_model",
    "find_binary",
    "start",
    "status",
    "stop",
]
