"""Marks persistence and cleaned exports (core, no UI)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tuirecipe.config import config_from_dict
from tuirecipe.data import load_table
from tuirecipe.data.cleaning import (
    MARK_DROP,
    MARK_LABEL_WRONG,
    MarkStore,
    cleaned_paths,
    export_cleaned,
    sha256_of,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "text": ["good film", "bad film", "good film", "odd one", "odd one", "fine"],
            "label": ["pos", "neg", "pos", "pos", "neg", "pos"],
            "row": [2, 3, 4, 5, 6, 7],
        }
    )


def _source(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    _frame()[["text", "label"]].to_csv(path, index=False)
    return path


def test_marks_persist_and_are_keyed_by_sha(tmp_path: Path) -> None:
    store = MarkStore(tmp_path / "runs", "abc", "data.csv")
    store.set(3, MARK_DROP)
    store.set(5, MARK_LABEL_WRONG)
    store.set(7, MARK_DROP)
    store.set(7, None)
    again = MarkStore(tmp_path / "runs", "abc")
    assert again.marks == {3: MARK_DROP, 5: MARK_LABEL_WRONG}
    other = MarkStore(tmp_path / "runs", "def")
    assert other.marks == {}
    other.set(1, MARK_DROP)  # must not erase the first file's marks
    assert MarkStore(tmp_path / "runs", "abc").marks == {3: MARK_DROP, 5: MARK_LABEL_WRONG}
    with pytest.raises(ValueError):
        store.set(1, "bogus")


def test_marks_survive_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "data_marks.json").write_text("{not json")
    store = MarkStore(tmp_path, "abc")
    assert store.marks == {}
    store.set(2, MARK_DROP)
    assert MarkStore(tmp_path, "abc").marks == {2: MARK_DROP}


def test_export_removes_marked_rows_and_writes_manifest(tmp_path: Path) -> None:
    source = _source(tmp_path)
    before = sha256_of(source)
    result = export_cleaned(source, _frame(), {3: MARK_DROP, 5: MARK_LABEL_WRONG})
    assert sha256_of(source) == before
    assert result.path == tmp_path / "reviews.cleaned.csv"
    assert result.manifest_path == tmp_path / "reviews.cleaned.manifest.json"
    cleaned = pd.read_csv(result.path)
    assert list(cleaned.columns) == ["text", "label"]
    assert "bad film" not in set(cleaned["text"])
    assert len(cleaned) == 5 and result.kept == 5 and result.removed == 1
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["source"] == {"path": str(source), "sha256": before, "rows": 6}
    # A frame without a line column: each line is its row.
    assert manifest["removed"] == [{"row": 3, "line": 3, "reason": "marked: drop"}]
    assert [item["row"] for item in manifest["label_wrong"]] == [5]
    assert manifest["label_wrong"][0]["kept"] is True
    assert manifest["skipped_count"] == 0 and manifest["skipped"] == []


def test_manifest_lists_skipped_rows_with_their_lines(tmp_path: Path) -> None:
    source = tmp_path / "multi.csv"
    source.write_bytes(
        b"text,label\n"  # line 1
        b'"two\nlines",pos\n'  # row 2, lines 2-3
        b",neg\n"  # row 3, line 4: empty text
        b"good,\n"  # row 4, line 5: missing label
        b'"three\n\nlines",neg\n'  # row 5, lines 6-8
        b"a,b,c\n"  # row 6, line 9: too many fields
        b"fine,pos\n"  # row 7, line 10
        b"fine,pos\n"  # row 8, line 11: a duplicate
    )
    loaded = load_table(source, config_from_dict({}).data)
    result = export_cleaned(
        source,
        loaded.frame,
        {5: MARK_DROP},
        drop_flags=("duplicate",),
        skipped=loaded.report.skipped,
    )
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["skipped_count"] == 3
    assert [(s["row"], s["line"], s["reason"]) for s in manifest["skipped"]] == [
        (3, 4, "empty text"),
        (4, 5, "missing label"),
        (6, 9, "expected 2 fields, saw 3"),
    ]
    assert "not in the cleaned file" in manifest["skipped_note"]
    assert [(r["row"], r["line"]) for r in manifest["removed"]] == [(5, 6), (8, 11)]
    cleaned = pd.read_csv(result.path, keep_default_na=False)
    assert cleaned["text"].tolist() == ["two\nlines", "fine"]


def test_bulk_duplicates_and_conflicts(tmp_path: Path) -> None:
    source = _source(tmp_path)
    result = export_cleaned(source, _frame(), {}, drop_flags=("duplicate", "conflict"))
    manifest = json.loads(result.manifest_path.read_text())
    reasons = {item["row"]: item["reason"] for item in manifest["removed"]}
    assert reasons[4] == "duplicate of row 2"
    assert reasons[5].startswith("conflict") and reasons[6].startswith("conflict")
    assert 2 not in reasons
    assert list(pd.read_csv(result.path)["text"]) == ["good film", "bad film", "fine"]
    with pytest.raises(ValueError):
        export_cleaned(source, _frame(), {}, drop_flags=("near_duplicate",))


def test_export_keeps_format_and_out_dir(tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    _frame()[["text", "label"]].to_json(source, orient="records", lines=True)
    before = sha256_of(source)
    result = export_cleaned(
        source,
        _frame(),
        {2: MARK_DROP},
        out_dir=tmp_path / "out",
        text_column="sentence",
        label_column="y",
    )
    assert sha256_of(source) == before
    back = pd.read_json(result.path, lines=True)
    assert list(back.columns) == ["sentence", "y"] and len(back) == 5
    assert cleaned_paths(Path("x/noext"))[0] == Path("x/noext.cleaned.csv")
