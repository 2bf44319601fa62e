"""Follow-up questions become standalone retrieval queries; history itself never reaches retrieval or the prompt."""

from assistant.answering.rewrite import LLMRewriter, heuristic_rewrite, is_follow_up, pairs
from assistant.app.compose import build_rewriter
from assistant.core.errors import AssistantError
from assistant.core.settings import PROJECT_ROOT, Settings
from assistant.llm.scripted import ScriptedChatModel
from assistant.text import query_tokens

PROMPTS = PROJECT_ROOT / "prompts"
H = [("党委主体责任包括哪些内容", "党委对本地区全面从严治党负主体责任。[1]")]


def test_follow_up_detection():
    for q in ("那监督责任呢", "它的责任主体是谁", "还有呢", "为什么", "上述规定适用于谁", "该项处分多久"):
        assert is_follow_up(q), q
    for q in ("党员应该如何对待处分", "一岗双责", "违反中央八项规定精神的处分有哪些", "纪委的监督责任是什么"):
        assert not is_follow_up(q), q


def test_standalone_question_is_kept_even_with_history():
    assert heuristic_rewrite("违反中央八项规定精神的处分有哪些", H) == "违反中央八项规定精神的处分有哪些"
    assert heuristic_rewrite("那监督责任呢", []) == "那监督责任呢"


def test_pronoun_is_replaced_by_previous_topic():
    assert heuristic_rewrite("它的责任主体是谁", [("什么是一岗双责", "……")]) == "一岗双责的责任主体是谁"


def test_ellipsis_keeps_the_aspect_with_the_new_subject():
    q = heuristic_rewrite("那监督责任呢", H)
    toks = query_tokens(q)
    assert "监督责任" in toks and "包括" in toks and "内容" in toks
    assert "主体责任" not in toks  # the new Party term replaces the old one


def test_short_follow_up_gets_previous_topic_merged():
    q = heuristic_rewrite("还有呢", H)
    assert {"主体责任", "内容"} <= set(query_tokens(q))


def test_chained_follow_ups_resolve_through_earlier_turns():
    history = [("什么是一岗双责", "……"), ("那主体责任呢", "……")]
    assert heuristic_rewrite("它包括哪些", history) == "主体责任包括哪些"


def test_role_message_history_is_understood():
    msgs = [("user", "什么是一岗双责"), ("assistant", "……"), ("user", "那主体责任呢"), ("assistant", "……")]
    assert pairs(msgs) == [("什么是一岗双责", "……"), ("那主体责任呢", "……")]
    assert heuristic_rewrite("它包括哪些", msgs) == "主体责任包括哪些"


def test_llm_rewriter_uses_prompt_and_cleans_reply():
    chat = ScriptedChatModel(["改写后的完整问题：“纪委的监督责任包括哪些内容？”\n多余的解释"])
    rw = LLMRewriter(chat, PROMPTS)
    assert rw("那监督责任呢", H) == "纪委的监督责任包括哪些内容？"
    system, user = chat.calls[0]
    assert system[0] == "system" and "只输出改写后的一个问题" in system[1]
    assert "问：党委主体责任包括哪些内容" in user[1] and "追问：那监督责任呢" in user[1]


def test_llm_rewriter_not_called_for_standalone_questions():
    chat = ScriptedChatModel()
    assert LLMRewriter(chat, PROMPTS)("违反中央八项规定精神的处分有哪些", H) == "违反中央八项规定精神的处分有哪些"
    assert chat.calls == []


def test_llm_rewriter_falls_back_when_reply_loses_the_question():
    chat = ScriptedChatModel(["党委主体责任包括哪些内容？"])  # dropped 监督责任
    assert LLMRewriter(chat, PROMPTS)("那监督责任呢", H) == heuristic_rewrite("那监督责任呢", H)


def test_llm_rewriter_falls_back_when_server_is_down():
    def down(_messages):
        raise AssistantError("cannot reach the LLM server", "assistant llm serve")

    assert LLMRewriter(ScriptedChatModel(down), PROMPTS)("它的责任主体是谁", [("什么是一岗双责", "")]) == "一岗双责的责任主体是谁"


def test_rewriter_by_answerer():
    assert build_rewriter(Settings(answerer="extractive")) is heuristic_rewrite
    assert isinstance(build_rewriter(Settings(answerer="llm")), LLMRewriter)


def test_service_retrieves_with_rewritten_query_only(hash_service):
    (hash_service.settings.knowledge_dir / "rule.md").write_text(
        "# 责任规定\n\n第八条 班子成员按照一岗双责要求，督促分管部门全面从严治党工作。\n\n第十条 纪委履行监督责任，协助党委工作。\n", "utf-8"
    )
    hash_service.ingest(show_bar=False)
    ans = hash_service.ask("它要求班子成员做什么", history=[("什么是一岗双责", "班子成员按照一岗双责要求……[1]")])
    assert ans.query == "一岗双责要求班子成员做什么"
    assert not ans.refused and ans.citations[0].chunk.article == "第八条"


def test_regulation_rewording_is_checked_and_searched_beside_the_question(hash_service):
    """The LLM's regulation wording is used only when it asks rather than answers, and is then searched too."""
    from assistant.answering.rewrite import RegulationRewriter
    from assistant.llm.scripted import ScriptedChatModel as ScriptedChat

    (hash_service.settings.knowledge_dir / "rule.md").write_text(
        "# 某单位规定（示例）\n\n## 第一章 总则\n\n第一条 党员收受礼金的，给予警告处分。\n\n第二条 党员干部应当按时参加组织生活。\n\n"
        "第三条 本规定由纪委负责解释。\n",
        "utf-8",
    )
    hash_service.ingest(show_bar=False)
    prompts = hash_service.settings.prompts_dir
    good = RegulationRewriter(ScriptedChat(["党员收受礼金如何处分"]), prompts)
    assert good("拿了红包咋办") == "党员收受礼金如何处分"
    guessing = RegulationRewriter(ScriptedChat(["收受礼金给予三个月警告"]), prompts)
    assert guessing("拿了红包咋办") == ""  # a period the question lacks: the model is answering, not rewording
    chatty = RegulationRewriter(ScriptedChat(["好的[1]"]), prompts)
    assert chatty("拿了红包咋办") == ""
    hash_service.reworder = good
    hits = hash_service.search("拿了红包咋办")
    assert hits[0].chunk.article == "第一条"
    assert any("条文用语" in n for n in hash_service.decide("拿了红包咋办", hits).notes)
