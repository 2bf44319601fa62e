"""Answers at once: with an LLM configured, the verified extractive answer comes first (before the model is even
asked), the model's text streams after it, and the model's answer replaces it only when it verifies."""

from __future__ import annotations

import re

import pytest

from assistant.answering.at_once import AtOnceAnswerer
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.llm import LLMAnswerer
from assistant.app.compose import build, build_answerer
from assistant.core.messages import say
from assistant.core.protocols import Answerer, Messages
from assistant.core.settings import PROJECT_ROOT, Settings
from assistant.core.types import Answer, Decision
from assistant.llm.chat import OpenAIChatModel
from assistant.llm.scripted import ScriptedChatModel

PROMPTS = PROJECT_ROOT / "prompts"
RULE = (
    "# 某单位主体责任规定（示例）\n\n## 第二章 责任内容\n\n"
    "第八条 班子成员根据工作分工，按照一岗双责要求，领导、检查、督促分管部门全面从严治党工作。\n\n"
    "第九条 党委书记履行第一责任人职责，重要工作亲自部署、重大问题亲自过问、重点环节亲自协调。\n\n"
    "第十条 纪委履行监督责任，协助党委推进全面从严治党。\n"
)
QUESTION = "党委书记履行什么职责？"
PENDING = say("note_at_once_pending")


def restate_first(messages: Messages) -> str:
    """A well-behaved model: restates the first numbered passage in its own opening words and cites it."""
    found = re.search(r"\[1\] [^\n]*\n([^\n]+)", messages[-1][1])
    assert found, "the prompt numbers its passages"
    body = re.sub(r"^第[一二三四五六七八九十百]+条\s*", "", found.group(1))
    return f"按照规定，{body}[1]"


def at_once(chat) -> AtOnceAnswerer:
    return AtOnceAnswerer(ExtractiveAnswerer(), LLMAnswerer(chat, PROMPTS))


@pytest.fixture()
def indexed(hash_settings):
    (hash_settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    service = build(hash_settings)
    service.ingest(show_bar=False)
    return service


def service_with(indexed, chat):
    indexed.answerer = at_once(chat)
    return indexed


def test_the_extractive_answer_comes_first_before_the_model_is_asked(indexed):
    chat = ScriptedChatModel(restate_first, chunk=2, delay=0.01)
    stream = service_with(indexed, chat).stream_ask(QUESTION)
    first = next(stream)
    # Ordering, not timing: the provisional answer is out before the slow model has even been called.
    assert chat.calls == []
    assert isinstance(first, Answer) and first.provisional and first.outcome == "answer"
    assert first.citations and all(c.quote in c.chunk.text for c in first.citations)
    assert first.notes[-1] == PENDING and "第一责任人" in first.text
    rest = list(stream)
    deltas = [x for x in rest if isinstance(x, str)]
    answers = [x for x in rest if isinstance(x, Answer)]
    assert len(chat.calls) == 1 and "".join(deltas) == restate_first(chat.calls[0])
    assert len(answers) == 1 and rest[-1] is answers[0], "deltas, then one final Answer"
    final = answers[0]
    # The model's answer verified, so it replaced the extractive one.
    assert not final.provisional and final.outcome == "answer" and not final.unsupported
    assert final.text.startswith("按照规定") and final.text != first.text
    assert PENDING not in final.notes
    assert indexed.ask(QUESTION).text.startswith("按照规定")  # ask() keeps the last Answer


def test_an_answer_that_fails_verification_keeps_the_extractive_one(indexed):
    chat = ScriptedChatModel(["书记应当多读书、多看报，搞好团结。[1]"], delay=0.001)
    items = list(service_with(indexed, chat).stream_ask(QUESTION))
    first, final = items[0], items[-1]
    assert isinstance(first, Answer) and first.provisional
    assert isinstance(final, Answer) and not final.provisional
    assert any(isinstance(x, str) for x in items[1:-1]), "the model's text still streamed"
    assert final.text == first.text and final.citations == first.citations
    assert final.notes[-1] == say("note_at_once_unverified") and PENDING not in final.notes


def test_a_partly_unsupported_model_answer_keeps_the_extractive_one(indexed):
    def half(messages: Messages) -> str:
        return restate_first(messages) + "另外，书记每周应当写一篇读书笔记。"

    final = list(service_with(indexed, ScriptedChatModel(half)).stream_ask(QUESTION))[-1]
    assert isinstance(final, Answer) and final.text.startswith("根据知识库中的文件")
    assert final.notes[-1] == say("note_at_once_unverified")


def test_a_model_that_is_down_keeps_the_extractive_one_with_a_note(indexed):
    down = OpenAIChatModel("http://127.0.0.1:9/v1", "m", "k", timeout=5)  # nothing listens on port 9
    items = list(service_with(indexed, down).stream_ask(QUESTION))
    assert [type(x) for x in items] == [Answer, Answer], "no model text, the provisional answer then the final one"
    first, final = items
    assert first.provisional and not final.provisional and final.text == first.text and final.citations
    assert final.notes[-1].startswith("模型暂时无法回答") and "连不上大模型服务" in final.notes[-1]


def test_no_basis_needs_no_model_and_nothing_provisional(indexed):
    chat = ScriptedChatModel([])  # any call would raise: the script is empty
    answerer = at_once(chat)
    hits = indexed.search(QUESTION)
    for decision in (Decision("none", 0.1), Decision("related", 0.4)):
        items = list(answerer.stream(QUESTION, hits, QUESTION, decision))
        assert not any(isinstance(x, Answer) and x.provisional for x in items)
        assert isinstance(items[-1], Answer) and items[-1].outcome == decision.outcome
    assert chat.calls == []


def test_compose_wraps_the_llm_answerer_unless_turned_off():
    wrapped = build_answerer(Settings(answerer="llm", embedder="hash"))
    assert isinstance(wrapped, AtOnceAnswerer) and isinstance(wrapped, Answerer)
    assert isinstance(wrapped.model, LLMAnswerer) and isinstance(wrapped.quick, ExtractiveAnswerer)
    assert isinstance(build_answerer(Settings(answerer="llm", embedder="hash", answer_at_once=False)), LLMAnswerer)
    assert isinstance(build_answerer(Settings(answerer="extractive", embedder="hash")), ExtractiveAnswerer)


def test_the_chat_page_shows_the_extractive_answer_then_replaces_it(indexed):
    from assistant.faces.ui.app import _chat_fn

    chat = ScriptedChatModel(restate_first, chunk=4)
    respond, _ = _chat_fn(service_with(indexed, chat))
    frames = list(respond(QUESTION, [], ""))
    bubbles = [msgs[-1]["content"] for msgs, _turns, _src in frames]
    at = next(i for i, b in enumerate(bubbles) if PENDING in b)
    assert "第一责任人" in bubbles[at] and "streaming" not in bubbles[at], "the extractive answer, whole, at once"
    later = bubbles[at + 1 : -1]
    assert later and all(PENDING in b and "streaming" in b for b in later), "the model's text streams below it"
    assert PENDING not in bubbles[-1] and "按照规定" in bubbles[-1], "the verified model answer replaces it"
    turns = frames[-1][1]
    assert turns[-1]["a"].startswith("按照规定")
