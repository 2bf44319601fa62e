"""Keeping the index in step with the knowledge folder: one sync pass, or a watch that polls the folder (stdlib only).

A pass is an ordinary incremental ingest: new and changed files are parsed and embedded, deleted ones leave the
index, unchanged ones keep their chunks. The watch compares a cheap stamp of the folders (name, size, mtime of every
file) between polls and runs a pass only when it moved; the 废止 list is read at each question, so a change to it
needs no pass and is only reported."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.app.documents import REPEAL_FILE, repealed_titles
from assistant.core.errors import AssistantError
from assistant.core.messages import error, say

if TYPE_CHECKING:
    from assistant.app.service import AssistantService
    from assistant.ingest.pipeline import IngestReport

log = logging.getLogger(__name__)

Stamp = tuple[tuple[str, int, int], ...]


def folder_stamp(service: AssistantService) -> Stamp:
    """(path, size, mtime_ns) of every file under the knowledge base's folders, hidden ones left out."""
    out: list[tuple[str, int, int]] = []
    for src in service.sources():
        if not src.root.is_dir():
            continue
        for p in src.root.rglob("*"):
            rel = p.relative_to(src.root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            try:
                st = p.stat()
            except OSError:  # a dangling link or a file deleted while we looked
                out.append((src.prefix + rel.as_posix(), -1, 0))
                continue
            if p.is_file():
                out.append((src.prefix + rel.as_posix(), st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


def changed_files(before: Stamp, after: Stamp) -> tuple[list[str], list[str], list[str]]:
    """(new, changed, deleted) paths between two stamps."""
    old = {p: (s, m) for p, s, m in before}
    new = {p: (s, m) for p, s, m in after}
    return (
        sorted(p for p in new if p not in old),
        sorted(p for p in new if p in old and new[p] != old[p]),
        sorted(p for p in old if p not in new),
    )


def sync(service: AssistantService, show_bar: bool = False) -> IngestReport:
    """One pass: ingest what is new, changed or deleted (nothing is rewritten when nothing changed)."""
    return service.ingest(show_bar=show_bar)


@dataclass
class SyncEvent:
    """What one poll of the watch found: a finished pass (report), a changed 废止 list (notice) or an error."""

    notice: str = ""
    report: IngestReport | None = None
    error: AssistantError | None = None


def watch(
    service: AssistantService,
    interval: float,
    on_event: Callable[[SyncEvent], None],
    stop: threading.Event | None = None,
    passes: int | None = None,
) -> int:
    """Sync now, then poll every ``interval`` seconds and sync when the folders changed, until ``stop`` is set
    (or ``passes`` polls have run). Returns the number of syncs run. A failed sync (another ingest holds the
    lock, a damaged index) is reported and retried at the next change."""
    if interval <= 0:
        raise error("sync_bad_interval", interval=interval)
    stop = stop or threading.Event()
    knowledge = service.settings.knowledge_dir
    stamp = folder_stamp(service)
    repealed = repealed_titles(knowledge)
    runs = 0

    def run(what: str) -> None:
        nonlocal runs
        runs += 1
        try:
            on_event(SyncEvent(notice=what, report=sync(service)))
        except AssistantError as e:
            log.warning("sync kb=%s failed: %s", service.settings.kb, e)
            on_event(SyncEvent(notice=what, error=e))

    run("")
    polls = 0
    while not stop.wait(interval):
        polls += 1
        now = folder_stamp(service)
        if now != stamp:
            new, changed, deleted = changed_files(stamp, now)
            stamp = now  # taken before the pass: a file that changes during it is seen at the next poll
            parts = [f"新增 {'、'.join(new)}" if new else "", f"修改 {'、'.join(changed)}" if changed else "",
                     f"删除 {'、'.join(deleted)}" if deleted else ""]  # fmt: skip
            what = say("note_sync_changed", at=time.strftime("%H:%M:%S"), what="；".join(p for p in parts if p))
            if [p for p in (*new, *changed, *deleted) if p != REPEAL_FILE]:
                run(what)
            else:
                on_event(SyncEvent(notice=what))
            try:
                now_repealed = repealed_titles(knowledge)
            except AssistantError as e:
                on_event(SyncEvent(error=e))
                now_repealed = repealed
            if now_repealed != repealed:
                repealed = now_repealed
                on_event(SyncEvent(notice=say("note_sync_repeal_changed", titles="、".join(sorted(repealed)) or "（空）")))
        if passes is not None and polls >= passes:
            break
    return runs
