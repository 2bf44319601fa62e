"""Background index updates: an ingest (startup, folder changes, uploads, removals, promotions) runs in a thread while
the previous index keeps answering; one at a time per knowledge base, with progress and cancel.

Cancel is cooperative: the ingest's progress callback raises ``IngestCancelled`` at its next step (each file read,
each embedded batch); the ingest then drops its half-written generation and the live index stays as it was.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.core.errors import AssistantError
from assistant.core.messages import error, say

if TYPE_CHECKING:
    from assistant.app.service import AssistantService
    from assistant.ingest.pipeline import IngestReport

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


class IngestCancelled(BaseException):
    """Raised inside the ingest thread when the job is cancelled; the live index is left as it was. A BaseException,
    like KeyboardInterrupt, so the ingest's per-file ``except Exception`` does not take it for a broken file."""

    def __init__(self) -> None:
        super().__init__(say("note_ingest_cancelled"))


@dataclass
class IngestJob:
    """One background update. ``state``: running → done | failed | cancelled."""

    what: str
    state: str = "running"
    fraction: float = 0.0
    step: str = ""
    report: IngestReport | None = None
    result: object = None  # what the job's function returned (the report, or (path, report) for a promotion)
    error: str = ""
    started: float = field(default_factory=time.time)
    finished: float = 0.0
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def cancel(self) -> bool:
        """Ask the job to stop at its next step; False when it has already ended."""
        if not self.running:
            return False
        self._cancel.set()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def progress(self, fraction: float, step: str) -> None:
        """The ingest's progress callback: records the step and stops the ingest when cancel was asked for."""
        if self._cancel.is_set():
            raise IngestCancelled()
        self.fraction, self.step = max(0.0, min(1.0, fraction)), step

    def status(self) -> str:
        """One line for the page: 正在更新索引…（what：step 42%） while running, else how it ended."""
        if self.running:
            detail = f"{self.what}：{self.step} {self.fraction:.0%}" if self.step else self.what
            return say("note_ingest_updating", what=detail)
        if self.state == "cancelled":
            return say("note_ingest_cancelled")
        if self.state == "failed":
            return f"索引更新失败（{self.what}）：{self.error}"
        summary = self.report.summary() if self.report is not None else ""
        return f"索引已更新（{self.what}）：{summary}"


class IngestJobs:
    """The background updates of one service's knowledge base; ``start`` refuses a second one while one runs."""

    def __init__(self, service: AssistantService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self.current: IngestJob | None = None

    @property
    def running(self) -> IngestJob | None:
        job = self.current
        return job if job is not None and job.running else None

    def start(self, what: str, run: Callable[[Progress], object]) -> IngestJob:
        """Run ``run(progress)`` in a daemon thread. ``what`` names the update on the page (启动时更新, 导入 a.docx …)."""
        with self._lock:
            busy = self.running
            if busy is not None:
                raise error("ingest_busy", kb=self.service.settings.kb, what=busy.what)
            job = self.current = IngestJob(what)
        threading.Thread(target=self._run, args=(job, run), name=f"ingest-{self.service.settings.kb}", daemon=True).start()
        return job

    def ingest(self, what: str = "更新索引", force: bool = False) -> IngestJob:
        """Bring the index in line with the knowledge folder and the uploads, in the background."""
        return self.start(what, lambda progress: self.service.ingest(progress=progress, force=force, show_bar=False))

    def cancel(self) -> bool:
        job = self.running
        return job.cancel() if job is not None else False

    def _run(self, job: IngestJob, run: Callable[[Progress], object]) -> None:
        try:
            result = run(job.progress)
            job.result = result
            job.report = result[1] if isinstance(result, tuple) else result  # type: ignore[assignment]
            job.state = "done"
        except IngestCancelled:
            job.state = "cancelled"
            log.info("ingest kb=%s cancelled (%s)", self.service.settings.kb, job.what)
        except AssistantError as e:
            job.state, job.error = "failed", str(e)
            log.warning("ingest kb=%s failed (%s): %s", self.service.settings.kb, job.what, e)
        except Exception as e:  # noqa: BLE001 - a background thread: logged with its traceback, shown as one line
            log.exception("ingest kb=%s: unexpected error (%s)", self.service.settings.kb, job.what)
            damage = self.service.diagnose()
            job.state, job.error = "failed", str(damage) if damage is not None else f"内部错误（{type(e).__name__}），详情见服务器日志"
        finally:
            job.finished = time.time()
            job._done.set()
