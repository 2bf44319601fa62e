"""`assistant kb list|add|remove|rebuild|stats`: manage the knowledge base named by the global --kb."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from assistant.app.documents import REPEAL_FILE, set_repealed
from assistant.app.sync import SyncEvent, sync, watch
from assistant.core.messages import error, say
from assistant.core.types import DOC_KINDS, KIND_LABELS, PROVENANCE_LABELS, UPLOADS_PREFIX
from assistant.faces.cli.main import EXTENSIONS, _service, command

STATUS = {
    "indexed": "已入库",
    "pending": "待入库",
    "changed": "待更新",
    "missing": "文件已删除",
    "excluded": "已移除",
    "added": "新增",
    "updated": "更新",
    "unchanged": "未变",
    "removed": "移除",
    "failed": "失败",
    "duplicate": "重复",
    "skipped": "跳过",
}
KINDS = {**KIND_LABELS, "": "-"}
PROBLEMS = ("failed", "duplicate", "skipped")


def _extend(sub) -> None:
    kb = sub.add_parser("kb", help="manage knowledge bases: list, add, remove, promote, rebuild, stats, repair, sync, repeal (name with --kb)")
    verbs = kb.add_subparsers(dest="kb_cmd", required=True)
    s = verbs.add_parser("list", help="documents of this knowledge base with their status, and the other knowledge bases")
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("add", help="copy files into this knowledge base and index them")
    s.add_argument("files", nargs="+", type=Path)
    s.add_argument("--kind", choices=DOC_KINDS, help="declare the document kind instead of detecting it")
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("remove", help="take a document out (uploads are deleted, files in the knowledge folder only excluded)")
    s.add_argument("name", help="path, file name or title as shown by `kb list`")
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("promote", help="an admin's decision: move an upload (用户上传) into the knowledge folder (正式文件) and re-index")
    s.add_argument("name", help="path, file name or title of the upload as shown by `kb list`")
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("rebuild", help="re-read, re-chunk and re-embed every document")
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("stats", help="size of the index, documents per kind, failures")
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("repair", help="check the live index files; when one is damaged, rebuild the index from the source files")
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("sync", help="bring the index in line with the knowledge folder (new, changed, deleted files); --watch keeps doing it")
    s.add_argument("--watch", action="store_true", help="keep polling the folder and sync whenever it changes (Ctrl-C stops)")
    s.add_argument("--interval", type=float, default=10.0, help="seconds between polls with --watch (default 10)")
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("repeal", help="mark a document 已废止: still searchable (labelled), never answered from (writes 废止.txt)")
    s.add_argument("name", help="title, file name or path as shown by `kb list`")
    s = verbs.add_parser("unrepeal", help="take a document off the 已废止 list again")
    s.add_argument("name", help="title, file name or path as shown by `kb list`")


EXTENSIONS.append(_extend)


def _file_line(f) -> str:
    status = STATUS.get(f.status, f.status)
    if f.status in PROBLEMS:
        return f"{status}  {f.error}"
    detail = f"  {KINDS.get(f.kind, f.kind)}  {f.chunks} 段" if f.status not in ("removed",) else ""
    title = f"  《{f.title}》" if f.title else ""
    return f"{status}  {f.path}{detail}{title}"


def _print_report(report, as_json: bool) -> int:
    problems = [f for f in report.files if f.status in PROBLEMS]
    if as_json:
        data = {
            "generation": report.generation,
            "chunks": report.chunks,
            "embedded": report.embedded,
            "seconds": round(report.seconds, 2),
            "warnings": report.warnings,
            "files": [vars(f) for f in report.files],
        }
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        for w in report.warnings:
            print(f"注意：{w}", file=sys.stderr)
        for f in report.files:
            if f.status in PROBLEMS:
                print(_file_line(f), file=sys.stderr)
            elif f.status != "unchanged":
                print(_file_line(f))
        if report.generation:
            print(report.summary())
        if problems:
            print(f"{len(problems)} 个文件未入库，原因见上；其余文件已处理。", file=sys.stderr)
    return 1 if problems else 0


@command("kb")
def cmd_kb(args, settings) -> int:
    svc = _service(settings)
    verb = args.kb_cmd
    if verb == "list":
        return _list(svc, args.json)
    if verb == "add":
        return _print_report(svc.add_files(args.files, kind=args.kind or ""), args.json)
    if verb == "remove":
        return _print_report(svc.remove_file(args.name), args.json)
    if verb == "promote":
        path, report = svc.promote(args.name)
        if not args.json:
            print(f"已转为正式文件：{path}（移入 {svc.settings.knowledge_dir}）")
        return _print_report(report, args.json)
    if verb == "rebuild":
        return _print_report(svc.ingest(force=True, show_bar=not args.json), args.json)
    if verb == "stats":
        return _stats(svc, args.json)
    if verb == "repair":
        return _repair(svc, args.json)
    if verb == "sync":
        return _watch(svc, args.interval, args.json) if args.watch else _print_report(sync(svc, show_bar=not args.json), args.json)
    if verb in ("repeal", "unrepeal"):
        return _repeal(svc, args.name, verb == "repeal")
    raise error("kb_unknown_verb", verb=verb)


def _repeal(svc, name: str, repealed: bool) -> int:
    title, changed = set_repealed(svc, name, repealed)
    path = svc.settings.knowledge_dir / REPEAL_FILE
    if not changed:
        print(say("note_repeal_unchanged", title=title, state="已是已废止" if repealed else "不在废止清单中"))
    else:
        print(say("note_repealed" if repealed else "note_unrepealed", title=title, path=path))
    return 0


def _watch(svc, interval: float, as_json: bool) -> int:
    """Sync now and whenever the knowledge folder changes, printing what changed, until Ctrl-C."""

    def show(event: SyncEvent) -> None:
        if event.notice:
            print(event.notice, file=sys.stderr, flush=True)
        if event.error is not None:
            print(f"错误：{event.error}", file=sys.stderr, flush=True)
        if event.report is not None:
            _print_report(event.report, as_json)
            sys.stdout.flush()

    print(say("note_sync_watching", folder=svc.settings.knowledge_dir, interval=f"{interval:g}"), file=sys.stderr, flush=True)
    try:
        watch(svc, interval, show)
    except KeyboardInterrupt:
        print(say("note_sync_stopped"), file=sys.stderr)
    return 0


def _repair(svc, as_json: bool) -> int:
    generation, problem = svc.index_problem()
    if not problem:
        if as_json:
            print(json.dumps({"damaged": "", "generation": generation}, ensure_ascii=False))
        else:
            print(f"索引完好（{generation}），无需修复。")
        return 0
    if not as_json:
        print(f"发现问题：{problem}；正在从源文件重建索引…", file=sys.stderr)
    return _print_report(svc.ingest(force=True, show_bar=not as_json), as_json)


def _list(svc, as_json: bool) -> int:
    entries = svc.document_status()
    kbs = list(svc.stats().knowledge_bases)
    name = svc.settings.kb
    repealed = svc.repealed()  # 已废止 (废止.txt): listed, searchable, never answered from
    if as_json:
        docs = [{**e.to_dict(), "repealed": e.title in repealed} for e in entries]
        print(json.dumps({"kb": name, "knowledge_bases": kbs, "documents": docs}, ensure_ascii=False, indent=1))
        return 0
    others = [k for k in kbs if k != name]
    print(f"知识库：{name}" + (f"（其他：{'、'.join(others)}）" if others else "") + f"  来源：{svc.settings.knowledge_dir}")
    if not entries:
        print("（空）用 `assistant kb add 文件…` 添加文档，或把文件放进知识库文件夹后运行 `assistant ingest`。")
        return 0
    for e in entries:
        if e.status in PROBLEMS or e.status == "excluded":
            continue
        title = f"  《{e.title}》" if e.title else ""
        title += "〔已废止〕" if e.title in repealed else ""
        chunks = f"  {e.chunks} 段" if e.chunks else ""
        origin = f"  〔{PROVENANCE_LABELS['upload']}〕" if e.path.startswith(UPLOADS_PREFIX) else ""
        print(f"{STATUS.get(e.status, e.status):<6} {KINDS.get(e.kind, e.kind):<5} {e.path}{chunks}{title}{origin}")
        for w in e.warnings:
            print(f"       注意：{w}")
        if e.ocr_pages:
            confs = [c for _page, c in e.ocr_pages]
            print(f"       OCR 识别 {len(confs)} 页，置信度 {min(confs):.2f}–{max(confs):.2f}")
        if e.ocr_low:
            low = "、".join(f"第 {page} 页（{c:.2f}）" for page, c in e.ocr_low[:10]) + (" 等" if len(e.ocr_low) > 10 else "")
            print(f"       注意：OCR 置信度低：{low}，文字可能有误 — 对照原件核对；或换更清晰端正的扫描件（300 dpi 以上）替换后运行 `assistant ingest`")
    problems = [e for e in entries if e.status in PROBLEMS or e.status == "excluded"]
    if problems:
        print("\n未入库：")
        for e in problems:
            print(f"{STATUS.get(e.status, e.status):<6} {e.path}：{e.error}")
    waiting = sum(1 for e in entries if e.status in ("pending", "changed", "missing"))
    if waiting:
        print(f"\n{waiting} 个文件有变化，运行 `assistant ingest` 更新索引。")
    return 0


def _stats(svc, as_json: bool) -> int:
    st = svc.stats()
    if as_json:
        print(json.dumps(st.to_dict(), ensure_ascii=False, indent=1))
        return 0
    if not st.generation:
        print(f"知识库 {st.kb} 还没有索引；运行 `assistant ingest` 或 `assistant kb add 文件…`。")
        return 0
    kinds = "，".join(f"{KINDS.get(k, k)} {v}" for k, v in sorted(st.kinds.items()))
    print(f"知识库：{st.kb}（共 {len(st.knowledge_bases)} 个：{'、'.join(st.knowledge_bases)}）")
    print(f"文档 {st.documents} 个（{kinds}），{st.chunks} 段，嵌入模型 {st.embedder}，索引 {st.index_bytes / 2**20:.1f} MiB，版本 {st.generation}")
    if st.errors:
        print(f"未入库 {len(st.errors)} 个：")
        for msg in st.errors.values():
            print(f"  {msg}")
    return 0
