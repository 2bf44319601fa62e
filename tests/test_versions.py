"""Version alignment (assistant.versions) on small texts and on the real 监察法 2018/2024 pair."""

from __future__ import annotations

from pathlib import Path

from assistant.index.versions import align, compare, earlier_version, parse_articles, summary

OLD = """# 示例规定
第一章　总则
第一条　为了加强廉政建设，制定本规定。
第二条　本规定适用于各级党组织。
第三条　党组织应当每年报告工作。
"""
NEW = """# 示例规定
第一章　总则
第一条　为了加强廉政建设，制定本规定。
第二条　党员领导干部应当落实一岗双责，对分管领域的党风廉政建设负领导责任。
第三条　本规定适用于各级党组织和党员领导干部。
第四条　党组织应当每年报告工作。
"""


def test_renumbered_and_added_articles() -> None:
    changes = align(parse_articles(OLD), parse_articles(NEW))
    pairs = [(c.status, c.old.number if c.old else None, c.new.number if c.new else None) for c in changes]
    assert pairs == [("未变", "第一条", "第一条"), ("新增", None, "第二条"), ("修改", "第二条", "第三条"),
                     ("未变", "第三条", "第四条")]
    modified = changes[2]
    assert ("+", "和党员领导干部") in modified.diff
    assert earlier_version(changes, "第三条", "2018", "2024") == "2024年修改前为第二条：本规定适用于各级党组织。"
    assert earlier_version(changes, "第四条", "2018", "2024") == ""


def test_jianchafa_2018_2024(corpus_dir: Path) -> None:
    changes = compare(corpus_dir / "laws", "中华人民共和国监察法", "2018", "2024")
    assert summary(changes) == {"未变": 54, "修改": 15, "新增": 9, "删除": 0}
    by_new = {c.new.number: c for c in changes if c.new}
    # checked by hand against both texts
    assert by_new["第二十二条"].old.number == "第二十一条"  # 询问证人, renumbered after 强制到案 was added
    assert by_new["第二十四条"].old.number == "第二十二条"  # 留置 conditions
    assert by_new["第四十七条"].old.number == "第四十三条" and by_new["第四十七条"].status == "修改"
    # 留置时间 (2024 第四十八条) was the second paragraph of 2018 第四十三条
    assert by_new["第四十八条"].status == "新增" and by_new["第四十八条"].source.number == "第四十三条"
    assert earlier_version(changes, "第四十八条", "2018", "2024").startswith("2024年修改前为第四十三条的一部分")
    assert by_new["第二十一条"].status == "新增" and by_new["第二十一条"].source is None  # 强制到案 is new
    assert by_new["第七十八条"].old.number == "第六十九条"  # 施行 article
    assert by_new["第一条"].status == "修改"
