"""One logging configuration for every face. Logs are English and for maintainers; users see the message catalogue.

stderr gets warnings (everything from INFO with --verbose); ``<index_dir>/logs/assistant.log`` keeps INFO and up,
rotated at 5 MB × 3, so a cadre's "it failed" can be matched with its traceback afterwards.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_OURS = "_assistant_handler"
# Chatty third-party loggers that would drown ours at INFO.
QUIET = ("httpx", "httpcore", "urllib3", "chromadb", "sentence_transformers", "jieba", "matplotlib", "PIL", "multipart")


class _IndexLogHandler(logging.handlers.RotatingFileHandler):
    """The log file inside the index folder, written only once that folder exists: logging never creates an index
    folder by itself (a mistyped --index-dir must stay absent)."""

    def emit(self, record: logging.LogRecord) -> None:
        folder = Path(self.baseFilename).parent
        if not folder.parent.is_dir():
            return
        try:
            folder.mkdir(exist_ok=True)
        except OSError:  # read-only index folder: it still answers, it just keeps no log
            return
        super().emit(record)


def configure(verbose: bool = False, log_dir: Path | None = None) -> Path | None:
    """Install the handlers (again: earlier ones of ours are replaced, so repeated calls in one process are safe).
    Returns the log file (written once its index folder exists), or None when ``log_dir`` is None."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(h)
        h.close()
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter(FORMAT))
    setattr(console, _OURS, True)
    root.addHandler(console)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    if log_dir is None:
        return None
    path = Path(log_dir).absolute() / "assistant.log"
    file = _IndexLogHandler(path, maxBytes=5 * 2**20, backupCount=3, encoding="utf-8", delay=True)
    file.setLevel(logging.INFO)
    file.setFormatter(logging.Formatter(FORMAT))
    setattr(file, _OURS, True)
    root.addHandler(file)
    return path
