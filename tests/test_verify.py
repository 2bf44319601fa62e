"""The citation verifier on hand-made chunks: kept, renumbered, dropped and unsupported markers."""

import pytest

from assistant.answering.verify import best_quote, verify
from assistant.core.types import UNSUPPORTED_MARK, Chunk, Citation
from assistant.text.similarity import overlap

DUTY = Chunk(
    id="rule#8",
    doc_id="rule",
    title="主体责任规定",
    article="第八条",
    text="班子成员根据工作分工，按照一岗双责要求，领导、检查、督促分管部门全面从严治党工作。班子成员应当定期报告履职情况。",
)
SECRETARY = Chunk(id="rule#9", doc_id="rule", title="主体责任规定", article="第九条", text="党委书记履行第一责任人职责，重要工作亲自部署、重大问题亲自过问。")
DISCIPLINE = Chunk(id="rule#10", doc_id="rule", title="主体责任规定", article="第十条", text="纪委履行监督责任，协助党委推进全面从严治党。")
CONTEXT = [DUTY, SECRETARY, DISCIPLINE]


def test_supported_markers_are_kept_and_renumbered_by_first_use():
    text = "党委书记是第一责任人，重要工作亲自部署。[2] 班子成员按照一岗双责要求督促分管部门。[1]"
    v = verify(text, CONTEXT)
    assert [c.chunk.id for c in v.citations] == ["rule#9", "rule#8"]
    assert [c.n for c in v.citations] == [1, 2]
    assert "亲自部署。[1]" in v.text and "分管部门。[2]" in v.text
    assert not v.unsupported and not v.dropped


def test_quotes_are_verbatim_sentences_of_the_cited_chunk():
    v = verify("班子成员应当定期报告履职情况。[1]", CONTEXT)
    (c,) = v.citations
    assert c.quote == "班子成员应当定期报告履职情况。"
    assert c.quote in c.chunk.text


def test_marker_out_of_range_is_dropped_and_sentence_marked():
    v = verify("纪委履行监督责任。[7]", CONTEXT)
    assert v.dropped == (7,)
    assert not v.citations
    assert v.text.endswith(UNSUPPORTED_MARK)
    assert v.unsupported == ("纪委履行监督责任。",)


def test_marker_to_unrelated_chunk_is_dropped_but_valid_one_kept():
    v = verify("纪委履行监督责任，协助党委推进全面从严治党。[2][3]", CONTEXT)
    assert v.dropped == (2,)
    assert [c.chunk.id for c in v.citations] == ["rule#10"]
    assert v.text == "纪委履行监督责任，协助党委推进全面从严治党。[1]"


def test_sentence_without_marker_is_flagged_not_silently_passed():
    v = verify("党委书记履行第一责任人职责。[2]\n各级干部要加强学习，提高政治站位。", CONTEXT)
    assert len(v.citations) == 1
    assert v.unsupported == ("各级干部要加强学习，提高政治站位。",)
    assert v.text.splitlines()[1].endswith(UNSUPPORTED_MARK)


def test_headings_and_connectives_are_not_claims():
    v = verify("根据规定：\n纪委履行监督责任。[3]", CONTEXT)
    assert not v.unsupported
    assert v.text.startswith("根据规定：\n")


def test_same_chunk_cited_twice_gets_one_citation():
    v = verify("班子成员领导分管部门全面从严治党工作。[1] 班子成员应当定期报告履职情况。[1]", CONTEXT)
    assert len(v.citations) == 1 and v.text.count("[1]") == 2


def test_overlap_and_best_quote():
    assert overlap("纪委履行监督责任", DISCIPLINE.text) == 1.0
    assert overlap("今天天气晴朗", DISCIPLINE.text) == 0.0
    assert best_quote("定期报告履职", DUTY) == "班子成员应当定期报告履职情况。"


def test_citation_rejects_a_quote_not_in_the_chunk():
    with pytest.raises(ValueError):
        Citation(1, DUTY, "党委书记履行第一责任人职责")
