"""The fault suite, small: every bad file, crash, full disk, lock clash and damaged index file against a live
index (hash embedder). `python benchmarks/fault_suite.py` runs it full size (10 MB lines, 20 kill points, every
damaged file) and prints the table."""

from __future__ import annotations

import pytest
from faultlib import (
    Row,
    bad_files,
    baseline,
    damaged_files,
    disk_full,
    kill_nine,
    queries_during_ingest,
    table,
    two_ingests,
    unreadable,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return baseline(tmp_path_factory.mktemp("faults") / "baseline")


def assert_clean(rows: list[Row], chinese: bool = True) -> None:
    print("\n" + table(rows))
    for r in rows:
        if r.skipped:
            continue
        assert r.tried > 0, r.fault
        assert r.clean == r.tried, (r.fault, r.problems[:5])
        assert r.intact == r.checks > 0, (r.fault, r.problems[:5])
        assert r.lost == 0, (r.fault, r.problems[:5])
        assert not r.problems, (r.fault, r.problems[:5])
        if chinese:
            assert r.chinese == r.messages, (r.fault, r.example)


def test_two_hundred_bad_files_are_each_named_and_the_index_keeps_answering(base, tmp_path):
    rows = bad_files(base, tmp_path / "bad", big=64 * 1024, rows_=300, depth=5000)
    assert sum(r.tried for r in rows) >= 200
    assert {r.fault for r in rows} >= {
        "truncated .docx/.xlsx/.pdf", "corrupt .docx/.xlsx/.pdf", "encrypted", "zip bomb", "0-byte",
        "binary junk with text extensions", "mixed and wrong encodings", "10 MB single-line text", "deeply nested HTML",
        "huge tables", "第99999条", "duplicate names in subfolders", "symlink loops",
    }
    assert_clean(rows)


def test_unreadable_files_are_named_and_an_unreadable_indexed_file_keeps_its_chunks(base, tmp_path):
    row = unreadable(base, tmp_path / "perm")
    if row.skipped:
        pytest.skip(row.skipped)
    assert_clean([row])


def test_kill_9_at_random_points_never_damages_the_live_index(base, tmp_path):
    row = kill_nine(base, tmp_path / "kill", points=3)
    assert_clean([row])


def test_a_full_disk_is_one_line_and_leaves_the_previous_index(base, tmp_path):
    row = disk_full(base, tmp_path / "disk")
    if row.skipped:
        pytest.skip(row.skipped)
    assert_clean([row])


def test_a_second_ingest_is_refused_by_the_lock(base, tmp_path):
    assert_clean([two_ingests(base, tmp_path / "two")])


def test_questions_during_an_ingest_keep_their_answers(base, tmp_path):
    row = queries_during_ingest(base, tmp_path / "queries", rounds=1)
    assert row.tried >= 5
    assert_clean([row])


def test_damaged_index_files_are_named_with_kb_repair_and_repair_restores_the_answers(base, tmp_path):
    cases = [("chroma/chroma.sqlite3", "truncate"), ("bm25/vocab.index.json", "flip"), ("bm25/data.csc.index.npy", "delete"),
             ("chunks.jsonl", "truncate"), ("manifest.json", "flip"), ("manifest.json", "delete"), ("chroma/chroma.sqlite3", "flip")]
    assert_clean([damaged_files(base, tmp_path / "damaged", cases)])
