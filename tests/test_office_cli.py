"""`assistant user|feedback|audit` end to end, in-process through the CLI's main(): accounts and keys, then
feedback on real answers reviewed and exported as an eval set that `assistant eval` runs on."""

from __future__ import annotations

import csv
import io
import json

import pytest
from pg_fixtures import pg_server  # noqa: F401 - a session fixture
from ui_fixtures import make_service

from assistant.app.evaluation import evaluate
from assistant.evaluation.format import load_qa
from assistant.faces.cli.main import main
from assistant.office import Office

PASSWORD = "correct horse battery"


def run(capsys, monkeypatch, index_dir, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["--index-dir", str(index_dir), *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True, params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database(request, monkeypatch) -> str:
    """The office database: the default SQLite file beside the index, or PostgreSQL through ASSISTANT_DATABASE_URL."""
    monkeypatch.setenv("ASSISTANT_CONFIG", "")
    if request.param == "sqlite":
        monkeypatch.delenv("ASSISTANT_DATABASE_URL", raising=False)
        return ""
    url = request.getfixturevalue("pg_server")()
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", url)
    return url


def test_user_commands(tmp_path, capsys, monkeypatch, database):
    idx = tmp_path / "index"
    code, out, _ = run(capsys, monkeypatch, idx, "user", "add", "管理员", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "已创建用户 管理员（admin）" in out
    assert run(capsys, monkeypatch, idx, "user", "add", "张三", "--password-stdin", stdin=PASSWORD + "\n")[0] == 0
    code, _, err = run(capsys, monkeypatch, idx, "user", "add", "李四", "--password-stdin", stdin="short\n")
    assert code == 2 and "错误：密码太短（5 个字符）" in err
    code, _, err = run(capsys, monkeypatch, idx, "user", "add", "李四")  # no terminal, no --password-stdin
    assert code == 2 and "--password-stdin" in err

    assert run(capsys, monkeypatch, idx, "user", "grant", "张三", "制度")[1].strip() == "张三\treader\t知识库：制度(阅读)"
    code, _, err = run(capsys, monkeypatch, idx, "user", "grant", "张三", "制度", "--role", "editor")
    assert code == 2 and "assistant user role 张三 editor" in err
    assert run(capsys, monkeypatch, idx, "user", "role", "张三", "editor")[0] == 0
    assert "制度(编辑)" in run(capsys, monkeypatch, idx, "user", "grant", "张三", "制度", "--role", "editor")[1]

    code, out, _ = run(capsys, monkeypatch, idx, "user", "list", "--json")
    users = {u["name"]: u for u in json.loads(out)}
    assert users["张三"]["grants"] == [{"kb": "制度", "role": "editor"}] and users["管理员"]["role"] == "admin"

    code, out, err = run(capsys, monkeypatch, idx, "user", "key", "张三", "--label", "办公室")
    key = out.strip()
    assert code == 0 and key.startswith("pda-") and "只显示这一次" in err
    listed = run(capsys, monkeypatch, idx, "user", "key", "张三", "--list")[1]
    assert key[:12] in listed and key not in listed and "有效" in listed
    with Office.open(database, idx) as office:
        assert office.accounts.user_for_key(key).name == "张三"
    assert "已吊销" in run(capsys, monkeypatch, idx, "user", "key", "张三", "--revoke", "1")[1]
    with Office.open(database, idx) as office:
        assert office.accounts.user_for_key(key) is None

    assert run(capsys, monkeypatch, idx, "user", "passwd", "张三", "--password-stdin", stdin="a new good password\n")[0] == 0
    with Office.open(database, idx) as office:
        assert office.accounts.authenticate("张三", "a new good password").name == "张三"
    assert "已停用" in run(capsys, monkeypatch, idx, "user", "disable", "张三")[1]
    assert run(capsys, monkeypatch, idx, "user", "revoke", "张三", "制度")[1].strip() == "张三\teditor\t知识库：—  已停用"
    code, _, err = run(capsys, monkeypatch, idx, "user", "grant", "王五", "制度")
    assert code == 2 and "用户 '王五' 不存在" in err

    out_csv = tmp_path / "audit.csv"
    code, out, _ = run(capsys, monkeypatch, idx, "audit", "export", "--out", str(out_csv))
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8-sig")))
    actions = [r["action"] for r in rows]
    assert code == 0 and f"已写出 {len(rows)} 条审计记录" in out
    assert not (idx / "office.sqlite3").exists() if database else (idx / "office.sqlite3").is_file()
    assert actions[:2] == ["user_add", "user_add"] and {"user_grant", "key_create", "key_revoke", "user_passwd", "user_disable"} <= set(actions)


def test_feedback_review_export_and_eval(tmp_path, capsys, monkeypatch, database):
    service = make_service(tmp_path)  # one regulation (主体责任规定), hash embedder, extractive answers
    idx = service.settings.index_dir
    with Office.open(database, idx) as office:
        admin = office.accounts.add("管理员", PASSWORD, role="admin")
        zs = office.accounts.add("张三", PASSWORD)
        turns = []
        for q in ("一岗双责要求我做什么？", "谁是本单位全面从严治党第一责任人？", "明天天气怎么样？"):
            a = service.ask(q)
            cites = [{"n": c.n, "title": c.chunk.title, "article": c.chunk.article, "quote": c.quote, "chunk_id": c.chunk.id} for c in a.citations]
            turns.append((a, office.history.save_turn(zs, q, a.text, a.outcome, cites, kbs=["default"])))
        assert [a.outcome for a, _ in turns][:2] == ["answer", "answer"]
        good = office.feedback.give(zs, turns[0][1].id, 1, comment="准确")
        fixed = office.feedback.give(zs, turns[1][1].id, -1, correct_article="《党委（党组）落实全面从严治党主体责任规定》第3条")
        other = office.feedback.give(zs, turns[2][1].id, 1 if turns[2][0].outcome != "answer" else -1)
        assert admin.is_admin

    code, out, _ = run(capsys, monkeypatch, idx, "feedback", "list", "--status", "new", "--json")
    assert code == 0 and [f["id"] for f in json.loads(out)] == [other.id, fixed.id, good.id]
    code, _, err = run(capsys, monkeypatch, idx, "feedback", "review", str(good.id), "--accept", "--by", "张三")
    assert code == 2 and "不是管理员" in err
    review = ("feedback", "review", "--by", "管理员")
    assert run(capsys, monkeypatch, idx, *review[:2], str(good.id), *review[2:], "--accept", "--keypoint", "一岗双责")[0] == 0
    assert run(capsys, monkeypatch, idx, *review[:2], str(fixed.id), *review[2:], "--accept", "--keypoint", "第一责任人")[0] == 0
    assert run(capsys, monkeypatch, idx, *review[:2], str(other.id), *review[2:], "--accept", "--note", "应当拒答")[0] == 0

    out_set = tmp_path / "set.jsonl"
    code, out, _ = run(capsys, monkeypatch, idx, "feedback", "export", "--out", str(out_set))
    assert code == 0 and "已写出 3 道题" in out
    items = load_qa(out_set)
    assert [(i.question, i.answerable, [g.article for g in i.gold]) for i in items] == [
        ("一岗双责要求我做什么？", True, [c.chunk.article for c in turns[0][0].citations]),
        ("谁是本单位全面从严治党第一责任人？", True, ["第三条"]),
        ("明天天气怎么样？", False, []),
    ]
    # the exported set runs through the evaluation: its gold sources name real chunks of this knowledge base
    result = evaluate(service, items)
    rows = {r["question"]: r for r in result.rows}
    assert rows["一岗双责要求我做什么？"]["hit@1"] == 1 and rows["谁是本单位全面从严治党第一责任人？"]["hit@5"] == 1
    assert rows["一岗双责要求我做什么？"]["keypoint_coverage"] == 1.0
    code, out, _ = run(capsys, monkeypatch, idx, "--knowledge-dir", str(service.settings.knowledge_dir), "--embedder", "hash",
                       "eval", str(out_set), "--out", str(tmp_path / "eval"))  # fmt: skip
    assert code == 0 and "3 questions in" in out and (tmp_path / "eval").is_dir()
