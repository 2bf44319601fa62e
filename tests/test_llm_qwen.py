"""The real local model: Qwen2.5-Coder-1.5B joined from its 22 part packages, one short grounded answer on CPU."""

import pytest
from llm_fixtures import llm_settings
from test_llm_server import RULE, assert_grounded

from assistant import llm_server
from assistant.compose import build

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
