"""The real local model: Qwen2.5-Coder-1.5B joined from its 22 part packages, one short grounded answer on CPU."""

import pytest
from llm_fixtures import llm_settings
from test_llm_server import RULE, assert_grounded

from assistant.app.compose import build
from assistant.llm import server as llm_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_joined_model_matches_the_pinned_sha(qwen_server):
    path = llm_server.ensure_model("qwen", qwen_server.cfg.models_dir)
    assert path.stat().st_size == llm_server.QWEN.size
    assert llm_server._stamped(path, llm_server.QWEN.sha256)  # written only after the sha256 matched
    assert qwen_server.state.model_path == str(path)


def test_qwen_answers_one_question_with_verified_citation(qwen_server, hash_settings):
    (hash_settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    svc = build(llm_settings(qwen_server, hash_settings, llm_max_tokens=48))
    svc.ingest(show_bar=False)
    ans = svc.ask("党委书记履行什么职责？")
    assert_grounded(ans)
    assert not ans.refused
    assert any(c.chunk.article == "第九条" for c in ans.citations)


def test_qwen_rewords_a_draft_section_and_every_sentence_stays_grounded(qwen_server, tmp_path):
    """The real model on the drafting path: it rewords sentences in report style; what it keeps is checked."""
    import shutil

    from test_draft import DATA, FACTS

    from assistant.answering.verify import verify
    from assistant.app.compose import build_chat_model
    from assistant.core.settings import Settings
    from assistant.core.types import MARKER
    from assistant.drafting import draft
    from assistant.drafting.check import allowed_figures, figures
    from assistant.drafting.facts import load_facts

    kdir = tmp_path / "knowledge"
    for sub in ("regulations", "reports", "lists"):
        shutil.copytree(DATA / sub, kdir / sub)
    settings = llm_settings(qwen_server, Settings(knowledge_dir=kdir, index_dir=tmp_path / "index", embedder="hash"))
    svc = build(settings)
    svc.ingest(show_bar=False)
    outline = "一、强化责任落实，扛牢全面从严治党主体责任\n（一）落实“一岗双责”"
    d = draft(svc, "强化责任落实", outline=outline, facts=[FACTS], chat_model=build_chat_model(settings, "draft"))
    template = draft(svc, "强化责任落实", outline=outline, facts=[FACTS])
    assert d.backend == "llm" and d.llm_sentences >= 1, d.warnings
    assert [p.text for p in d.paragraphs] != [p.text for p in template.paragraphs]
    context = [c.chunk for c in d.citations]
    text = "".join(p.text for p in d.paragraphs)
    for p in d.paragraphs:
        again = verify(p.text, context)
        assert again.dropped == () and again.unsupported == ()
        assert all(c.quote in c.chunk.text for c in p.citations)
    allowed = allowed_figures([*(c.text for c in load_facts([FACTS])), *(c.text for c in context), outline])
    assert set(figures(MARKER.sub("", text))) <= allowed
    assert d.check.cited_share == 1.0 and d.check.unknown_numbers == ()
