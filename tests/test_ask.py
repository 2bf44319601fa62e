"""The grounded `ask` path end to end with the hash embedder and the extractive answerer."""

from assistant.answering.extractive import REFUSAL
from assistant.faces.cli.main import main

RULE = (
    "# 某单位主体责任规定（示例）\n\n## 第二章 责任内容\n\n"
    "第八条 班子成员根据工作分工，按照一岗双责要求，领导、检查、督促分管部门全面从严治党工作。\n\n"
    "第九条 党委书记履行第一责任人职责，重要工作亲自部署。\n\n第十条 纪委履行监督责任。\n"
)


def test_ask_cites_exact_quotes(hash_service):
    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    ans = hash_service.ask("一岗双责要求我做什么？")
    assert not ans.refused
    assert ans.citations and ans.citations[0].chunk.article == "第八条"
    for c in ans.citations:
        assert c.quote in c.chunk.text and f"[{c.n}]" in ans.text
    assert "《某单位主体责任规定（示例）》" in ans.citations[0].label


def test_ask_refuses_without_basis(hash_service):
    (hash_service.settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    ans = hash_service.ask("明天北京的天气怎么样？")
    assert ans.refused and ans.text == REFUSAL and not ans.citations


def test_cli_ask_and_search_json(hash_settings, capsys, monkeypatch):
    (hash_settings.knowledge_dir / "rule.md").write_text(RULE, "utf-8")
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hash")
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(hash_settings.index_dir))
    monkeypatch.setenv("ASSISTANT_KNOWLEDGE_DIR", str(hash_settings.knowledge_dir))
    assert main(["ingest"]) == 0
    assert main(["ask", "一岗双责要求我做什么？"]) == 0
    out = capsys.readouterr().out
    assert "[1]" in out and "来源：" in out and "第八条" in out
    assert main(["search", "第一责任人", "--mode", "bm25", "--json"]) == 0
    import json

    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["article"] == "第九条"


def test_cli_error_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hash")
    assert main(["ask", "问题"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "assistant ingest" in err
