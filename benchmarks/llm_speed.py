"""Local LLM figures: server load time, prompt and generation tokens/s, and end-to-end answer latency.

    python benchmarks/llm_speed.py --model smollm2
    python benchmarks/llm_speed.py --model qwen --index-dir /tmp/idx1 --knowledge-dir /work/shared/corpus

Starts its own llama-server on a free loopback port and stops it at the end.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import time
import urllib.request
from pathlib import Path

from assistant.core.settings import Settings, offline_env
from assistant.llm import server as llm_server

QUESTIONS = ("党委（党组）书记在全面从严治党中承担什么责任？", "违反中央八项规定精神会受到什么处分？")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_timings(base_url: str, key: str, max_tokens: int, prompt: str) -> dict:
    body = {
        "messages": [
            {"role": "system", "content": "你是全面从严治党知识库问答助手。"},
            {"role": "user", "content": prompt},
        ],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    req = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        data = json.loads(r.read())
    t = data.get("timings", {})
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "prompt_tokens": t.get("prompt_n"),
        "prompt_tok_per_s": round(t.get("prompt_per_second", 0.0), 1),
        "gen_tokens": t.get("predicted_n"),
        "gen_tok_per_s": round(t.get("predicted_per_second", 0.0), 1),
    }


def main() -> None:
    offline_env()
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=sorted(llm_server.MODELS), default="smollm2")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--index-dir", type=Path, help="an existing index to answer real questions from (read only)")
    p.add_argument("--knowledge-dir", type=Path)
    p.add_argument("--mode", default="bm25", help="retrieval mode for the answer latency (bm25 avoids loading the embedder)")
    args = p.parse_args()

    settings = Settings()
    import tempfile

    cfg = llm_server.ServerConfig(
        model=args.model,
        port=free_port(),
        api_key=secrets.token_hex(8),
        models_dir=settings.models_dir,
        state_dir=Path(tempfile.mkdtemp(prefix="llm-bench-")),
        binary=settings.llm_server_bin,
        ctx_size=settings.llm_ctx_size,
    )
    t0 = time.perf_counter()
    llm_server.ensure_model(args.model, cfg.models_dir)
    t_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    server = llm_server.start(cfg, timeout=600)
    t_load = time.perf_counter() - t0
    try:
        print(f"model={args.model} binary={server.state.binary}")
        print(f"model file ready: {t_model:.1f}s   server load: {t_load:.1f}s")
        raw_timings(server.base_url, cfg.api_key, 8, "你好")  # warm-up; a different prompt so nothing is cached
        prompt = "请逐条说明党委（党组）落实全面从严治党主体责任、纪委落实监督责任、班子成员落实一岗双责的具体要求。" * 6
        print("raw chat completion:", json.dumps(raw_timings(server.base_url, cfg.api_key, args.max_tokens, prompt)))
        if args.index_dir:
            from assistant.app.compose import build
            from assistant.core.types import Answer

            svc = build(
                Settings(
                    answerer="llm",
                    index_dir=args.index_dir,
                    knowledge_dir=args.knowledge_dir or settings.knowledge_dir,
                    mode=args.mode,
                    llm_base_url=server.base_url,
                    llm_api_key=cfg.api_key,
                    llm_model=llm_server.MODELS[args.model].name,
                    llm_max_tokens=args.max_tokens * 3,
                    llm_temperature=0.0,
                    llm_timeout=600,
                )
            )
            for q in QUESTIONS:
                t0 = time.perf_counter()
                first = None
                final = None
                for item in svc.stream_ask(q):
                    if first is None:
                        first = time.perf_counter() - t0
                    if isinstance(item, Answer):
                        final = item
                total = time.perf_counter() - t0
                print(
                    f"answer: first delta {first:.1f}s, total {total:.1f}s, refused={final.refused}, "
                    f"citations={len(final.citations)}, unsupported={len(final.unsupported)}"
                )
                print("   ", final.text.replace("\n", " ")[:200])
    finally:
        server.stop()


if __name__ == "__main__":
    main()
