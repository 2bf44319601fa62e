"""Drafting facade: outline → draft → check → export, and the drafting evaluation, for every face."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from assistant.core.protocols import ChatModel
from assistant.core.types import Chunk
from assistant.drafting import Draft, Outline, draft, final_draft, load_facts, parse_outline, propose_outline, stream_draft
from assistant.drafting.check import PLACEHOLDER
from assistant.drafting.evaluate import evaluate, format_comparison, format_report, load_topics
from assistant.drafting.export import special_parts, to_docx, to_markdown, to_markdown_file

__all__ = ["PLACEHOLDER", "Draft", "Drafting", "Outline", "final_draft", "format_comparison", "format_report", "special_parts"]

Progress = Callable[[int, int, str], None]


class Drafting:
    """What the 起草 tab and `assistant draft` do. The chat model is built once from settings when first needed
    (or given, e.g. a scripted one in tests); without it the offline template writes."""

    def __init__(self, service, chat_model: ChatModel | None = None) -> None:
        self.service = service
        self._chat_model = chat_model

    def chat_model(self, use_llm: bool) -> ChatModel | None:
        if not use_llm:
            return None
        if self._chat_model is None:
            from assistant.app.compose import build_chat_model

            self._chat_model = build_chat_model(self.service.settings, purpose="draft")
        return self._chat_model

    def propose_outline(self, topic: str, use_llm: bool = False) -> Outline:
        return propose_outline(self.service, topic, self.chat_model(use_llm))

    def parse_outline(self, text: str, topic: str) -> Outline:
        return parse_outline(text, topic)

    def load_facts(self, paths: Iterable[Path | str], text: str = "") -> tuple[Chunk, ...]:
        return load_facts(list(paths), text)

    def draft(
        self,
        topic: str,
        outline: Outline | str | None = None,
        facts: Sequence[Chunk] | Iterable[Path | str] | None = None,
        use_llm: bool = False,
        progress: Progress | None = None,
    ) -> Draft:
        return draft(self.service, topic, outline=outline, facts=facts, chat_model=self.chat_model(use_llm), progress=progress)

    def draft_stream(
        self,
        topic: str,
        outline: Outline | str | None = None,
        facts: Sequence[Chunk] | Iterable[Path | str] | None = None,
        use_llm: bool = False,
        progress: Progress | None = None,
        at_once: bool = True,
    ) -> Iterator[Draft]:
        """Drafts as they improve: with the LLM, the verified template draft at once (``provisional``, its sections
        ``pending``), then a snapshot per reworded section, the final draft last; without it, the final draft only.
        Export only the last one."""
        model = self.chat_model(use_llm)
        return stream_draft(self.service, topic, outline=outline, facts=facts, chat_model=model, progress=progress, at_once=at_once)

    def markdown(self, d: Draft) -> str:
        """The draft as Markdown text (what the .md export holds), for printing."""
        return to_markdown(d)

    def export(self, d: Draft, out: Path, fonts: str = "gb") -> list[Path]:
        """Write ``out`` (.md, or .docx with a .md beside it; any other suffix becomes .docx)."""
        out = Path(out)
        if out.suffix.lower() == ".md":
            return [to_markdown_file(d, out)]
        out = out if out.suffix.lower() == ".docx" else out.with_suffix(".docx")
        return [to_docx(d, out, fonts=fonts), to_markdown_file(d, out.with_suffix(".md"))]

    def export_to_folder(self, d: Draft, folder: Path, fonts: str = "gb") -> tuple[Path, Path]:
        """The .docx and .md of ``d`` in ``folder``, named after its title."""
        stem = re.sub(r"[^\w]+", "_", d.title or d.topic).strip("_")[:40] or "draft"
        docx, md = self.export(d, Path(folder) / f"{stem}.docx", fonts=fonts)
        return docx, md

    def evaluate(self, topics_file: Path, use_llm: bool = False, compare: bool = False, limit: int = 0, out_dir: Path | None = None) -> list[dict]:
        """Outline coverage and citation share per topic; with ``compare`` the template and the LLM side by side."""
        topics = load_topics(Path(topics_file))
        if limit:
            topics = topics[:limit]
        models = [None, self.chat_model(True)] if compare else [self.chat_model(use_llm)]
        return [evaluate(self.service, topics, chat_model=model, out_dir=out_dir) for model in models]
