"""Helpers for the web UI tests: a tiny hash-embedder knowledge base and the app served on a free loopback port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REGULATION = """# 党委（党组）落实全面从严治党主体责任规定

## 第一章 总则

第一条 为了压实党委（党组）全面从严治党主体责任，制定本规定。

## 第二章 责任内容

第二条 党委（党组）领导班子其他成员应当履行“一岗双责”，既要抓好分管业务工作，又要抓好分管领域的全面从严治党工作。

第三条 党委（党组）书记是本地区本单位全面从严治党第一责任人。

第四条 纪检监察机关履行监督责任，协助党委推进全面从严治党。
"""

# Markup and script in a source document must show as text and never run in the page.
HOSTILE = """# 廉政谈话补充规定

第一条 廉政谈话应当每年开展 <script>window.__pwned=1</script> 并记录 <img src=x onerror="window.__pwned=2"> ${window.__pwned=3} **加粗** [链接](javascript:window.__pwned=4)。
"""

DUTY_QUOTE = "既要抓好分管业务工作，又要抓好分管领域的全面从严治党工作"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_service(tmp_path: Path, **overrides):
    """An ingested knowledge base with one regulation, built with the deterministic hash embedder."""
    from assistant.app.compose import build
    from assistant.core.settings import Settings

    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    (kdir / "主体责任规定.md").write_text(REGULATION, "utf-8")
    settings = Settings(
        knowledge_dir=kdir,
        index_dir=tmp_path / "index",
        embedder="hash",
        answerer="extractive",
        mode="hybrid",
        host="127.0.0.1",
        port=free_port(),
        **overrides,
    )
    service = build(settings)
    service.ingest(show_bar=False)
    return service


@contextmanager
def serve(service) -> Iterator[str]:
    """Run the app in this process (uvicorn thread) and yield its base URL."""
    from assistant.faces.ui.app import build_app, launch

    demo = build_app(service)
    _app, url, _share = launch(demo, service.settings, prevent_thread_lock=True, quiet=True)
    try:
        yield url.rstrip("/")
    finally:
        demo.close()
