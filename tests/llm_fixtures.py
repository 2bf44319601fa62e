"""Session fixtures that run a real llama-server on a free loopback port (imported by conftest.py)."""

from __future__ import annotations

import secrets
import socket

import pytest

from assistant.core.settings import Settings
from assistant.llm.server import MODELS, ServerConfig, start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(model: str, tmp_path_factory, ctx_size: int):
    cfg = ServerConfig(
        model=model,
        port=free_port(),
        api_key="test-" + secrets.token_hex(8),
        models_dir=Settings().models_dir,  # the joined Qwen file is reused across runs
        state_dir=tmp_path_factory.mktemp(f"llm-{model}"),
        ctx_size=ctx_size,
    )
    server = start(cfg, timeout=600)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def smollm2_server(tmp_path_factory):
    yield from _serve("smollm2", tmp_path_factory, ctx_size=2048)


@pytest.fixture(scope="session")
def qwen_server(tmp_path_factory):
    yield from _serve("qwen", tmp_path_factory, ctx_size=2048)


def llm_settings(server, base: Settings | None = None, **overrides) -> Settings:
    """Settings that point the LLM answerer at ``server``, deterministic (temperature 0)."""
    data = (base or Settings()).model_dump()
    data.update(
        answerer="llm",
        llm_base_url=server.base_url,
        llm_api_key=server.cfg.api_key,
        llm_model=MODELS[server.cfg.model].name,
        llm_temperature=0.0,
        llm_timeout=300.0,
    )
    data.update(overrides)
    return Settings(**data)
