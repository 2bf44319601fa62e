"""One logging configuration: English lines to stderr (all of them with --verbose) and to <index_dir>/logs."""

from __future__ import annotations

import logging

from assistant.core.logs import configure
from assistant.faces.cli.main import main


def _ours():
    return [h for h in logging.getLogger().handlers if getattr(h, "_assistant_handler", False)]


def test_configure_twice_keeps_one_set_of_handlers(tmp_path):
    configure(False, tmp_path / "logs")
    path = configure(True, tmp_path / "logs")
    assert path == tmp_path / "logs" / "assistant.log"
    assert len(_ours()) == 2  # console + file, not four
    console = next(h for h in _ours() if isinstance(h, logging.StreamHandler) and not hasattr(h, "baseFilename"))
    assert console.level == logging.DEBUG
    configure(False, None)
    assert len(_ours()) == 1 and _ours()[0].level == logging.WARNING


def test_cli_writes_its_log_under_the_index_dir(tmp_path, capsys):
    knowledge = tmp_path / "k"
    knowledge.mkdir()
    (knowledge / "规定.md").write_text("# 规定\n\n第一条 党委履行主体责任。\n", "utf-8")
    base = ["--knowledge-dir", str(knowledge), "--index-dir", str(tmp_path / "idx"), "--embedder", "hash"]
    assert main([*base, "ingest"]) == 0
    assert main([*base, "ask", "党委履行什么责任", "--verbose"]) == 0
    assert main([*base, "kb", "remove", "没有这个文件"]) == 2
    err = capsys.readouterr().err
    assert "INFO assistant.app.service: ask:" in err  # --verbose shows it on stderr
    log = (tmp_path / "idx" / "logs" / "assistant.log").read_text("utf-8")
    assert "assistant.app.service: ingest kb=default: 1 chunks" in log
    assert "ask: 8 chars, kb=default, mode=hybrid, outcome=" in log and "党委履行什么责任" not in log  # questions stay out of the log
    assert "kb failed:" in log
    configure(False, None)
