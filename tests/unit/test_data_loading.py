"""Loading tables, bad inputs, encodings, splits and prepare_data (no torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tuirecipe.config import config_from_dict
from tuirecipe.data import (
    file_sha256,
    load_table,
    prepare_data,
    read_columns,
    stratified_kfold,
    stratified_split,
)
from tuirecipe.errors import DataError


def data_cfg(**data):
    return config_from_dict({"data": data}).data


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def error_of(path: Path, **data) -> DataError:
    with pytest.raises(DataError) as info:
        load_table(path, data_cfg(**data))
    return info.value


# -- files that cannot be used --------------------------------------------------------------


def test_missing_file_names_path_and_key(tmp_path):
    err = error_of(tmp_path / "nope.csv")
    assert "file not found" in str(err)
    assert err.source == str(tmp_path / "nope.csv") and err.key == "data.path"


def test_directory(tmp_path):
    assert "directory" in str(error_of(tmp_path))


def test_binary_file(tmp_path):
    path = write(tmp_path, "model.csv", bytes(range(256)) * 10)
    assert "binary" in str(error_of(path))


def test_parquet_bytes_under_a_csv_name_are_named(tmp_path):
    pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]}).to_parquet(tmp_path / "x.parquet")
    path = write(tmp_path, "x.csv", (tmp_path / "x.parquet").read_bytes())
    err = error_of(path)
    assert "Parquet" in str(err) and err.key == "data.format"


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path, content):
    assert "is empty" in str(error_of(write(tmp_path, "e.csv", content)))


def test_header_only(tmp_path):
    err = error_of(write(tmp_path, "h.csv", "text,label\n"))
    assert "header row but no data rows" in str(err)


def test_missing_column_lists_the_columns(tmp_path):
    path = write(tmp_path, "c.csv", "sentence,label\nhello,a\nbye,b\n")
    err = error_of(path, text_column="review")
    assert err.key == "data.text_column"
    assert "'sentence'" in str(err) and "'label'" in str(err)


def test_column_index_out_of_range(tmp_path):
    path = write(tmp_path, "c.tsv", "a\t0\nb\t1\n")
    err = error_of(path, text_column="0", label_column="5")
    assert err.key == "data.label_column" and "2 column(s)" in str(err)


def test_one_class_only(tmp_path):
    err = error_of(write(tmp_path, "one.csv", "text,label\na,x\nb,x\nc,x\n"))
    assert "only one class" in str(err) and err.key == "data.label_column"


def test_no_usable_rows_reports_first_reason(tmp_path):
    err = error_of(write(tmp_path, "n.csv", "text,label\n,a\n  ,b\n"))
    assert "no usable rows" in str(err) and "row 2" in str(err) and "empty text" in str(err)


# -- rows that are skipped, with their row numbers --------------------------------------------


def test_bad_rows_are_skipped_with_file_row_numbers(tmp_path):
    path = write(
        tmp_path,
        "d.csv",
        "text,label\n"  # row 1
        "good one,a\n"  # row 2
        ",b\n"  # row 3: empty text
        "no label,\n"  # row 4: missing label
        "nan label,NaN\n"  # row 5: missing label
        "\n"  # row 6: blank line
        "too,many,fields\n"  # row 7: parser error
        "   ,a\n"  # row 8: whitespace text
        "fine,b\n",
    )  # row 9
    loaded = load_table(path, data_cfg())
    report = loaded.report
    assert loaded.frame["row"].tolist() == [2, 9]
    assert loaded.frame["text"].tolist() == ["good one", "fine"]
    assert [(s.row, s.reason.split(" ")[0]) for s in report.skipped] == [
        (3, "empty"),
        (4, "missing"),
        (5, "missing"),
        (6, "blank"),
        (7, "expected"),
        (8, "empty"),
    ]
    assert report.rows_read == 8 and report.rows_used == 2
    assert report.sha256 == file_sha256(path)
    assert list(loaded.frame.columns) == ["text", "label", "row", "line"]
    # One record per line: the line numbers are the row numbers.
    assert loaded.frame["line"].tolist() == [2, 9]
    assert [s.line for s in report.skipped] == [3, 4, 5, 6, 7, 8]


def test_classification_labels_are_strings_and_integer_floats_collapse(tmp_path):
    path = write(tmp_path, "f.csv", "text,label\na,1\nb,1.0\nc,0.0\nd,2.5\ne,-1\n")
    labels = load_table(path, data_cfg()).frame["label"].tolist()
    assert labels == ["1", "1", "0", "2.5", "-1"]


def test_regression_skips_non_numeric_labels(tmp_path):
    path = write(tmp_path, "r.csv", "text,label\na,1.5\nb,abc\nc,inf\nd,-2\n")
    loaded = load_table(path, data_cfg(task="regression"))
    assert loaded.frame["label"].tolist() == [1.5, -2.0]
    assert loaded.frame["label"].dtype == np.float64
    assert [(s.row, s.reason) for s in loaded.report.skipped] == [
        (3, "label 'abc' is not a number"),
        (4, "label 'inf' is not a number"),
    ]


# -- formats and headers -------------------------------------------------------------------


def test_tsv_keeps_quote_characters(tmp_path):
    path = write(tmp_path, "q.tsv", 'say "hi\t1\nand bye" now\t0\n"quoted"\t1\n')
    frame = load_table(path, data_cfg(header="no")).frame
    assert frame["text"].tolist() == ['say "hi', 'and bye" now', '"quoted"']


def test_header_auto_detection_and_positional_columns(tmp_path):
    with_header = write(tmp_path, "h.tsv", "label\ttext\nspam\tbuy now\nham\thello\n")
    frame = load_table(with_header, data_cfg()).frame
    assert frame["text"].tolist() == ["buy now", "hello"] and frame["row"].tolist() == [2, 3]
    no_header = write(tmp_path, "n.tsv", "spam\tbuy now\nham\thello\n")
    frame = load_table(no_header, data_cfg(text_column="1", label_column="0")).frame
    assert frame["label"].tolist() == ["spam", "ham"] and frame["row"].tolist() == [1, 2]
    # Without a header the default names mean column 0 (text) and column 1 (label).
    frame = load_table(write(tmp_path, "d.tsv", "buy now\tspam\nhello\tham\n"), data_cfg()).frame
    assert frame["label"].tolist() == ["spam", "ham"]


def test_unrecognised_header_gets_a_hint(tmp_path):
    path = write(tmp_path, "u.csv", "review,stars\n" + "good,5\nbad,1\n" * 5)
    report = load_table(path, data_cfg()).report
    assert any("header" in note for note in report.notes)


def test_jsonl_with_bad_lines(tmp_path):
    lines = [
        json.dumps({"text": "a", "label": 1}),
        "{broken",
        "",
        json.dumps({"text": "b", "label": 0}),
        json.dumps([1, 2]),
        json.dumps({"text": "c", "label": None}),
    ]
    loaded = load_table(write(tmp_path, "d.jsonl", "\n".join(lines) + "\n"), data_cfg())
    assert loaded.frame["label"].tolist() == ["1", "0"]
    assert loaded.frame["row"].tolist() == [1, 4]
    assert [(s.row, s.reason[:9]) for s in loaded.report.skipped] == [
        (2, "not valid"),
        (5, "not a JSO"),
        (6, "missing l"),
    ]


def test_json_array_and_parquet(tmp_path):
    records = [{"text": "x y", "label": 1.0}, {"text": "z", "label": 2.0}]
    path = write(tmp_path, "d.json", json.dumps(records))
    assert load_table(path, data_cfg()).frame["label"].tolist() == ["1", "2"]
    pd.DataFrame({"body": ["a", "b", None], "y": [0.5, 1.5, 2.0]}).to_parquet(
        tmp_path / "d.parquet"
    )
    loaded = load_table(
        tmp_path / "d.parquet", data_cfg(text_column="body", label_column="y", task="regression")
    )
    assert loaded.frame["label"].tolist() == [0.5, 1.5]
    assert loaded.report.format == "parquet" and loaded.report.skipped[0].row == 3


# -- encodings -------------------------------------------------------------------------------


def test_mixed_encodings_fall_back_per_row(tmp_path):
    raw = (
        "text,label\ncafé ok,a\n".encode()
        + "it\u2019s cp1252,b\n".encode("cp1252")
        + "naïve,a\n".encode("latin-1")
        + b"fine,b\n"
    )
    loaded = load_table(write(tmp_path, "m.csv", raw), data_cfg())
    report = loaded.report
    assert loaded.frame["text"].tolist() == ["café ok", "it\u2019s cp1252", "naïve", "fine"]
    assert report.encoding_fallback and report.encoding == "utf-8+cp1252+latin-1"
    assert "mixed encodings" in report.notes[0] and "rows 3, 4" in report.notes[0]


def test_whole_file_in_latin1_and_utf8_bom(tmp_path):
    raw = "text,label\nsister\u00f0city,a\nplain,b\n".encode("latin-1")
    report = load_table(write(tmp_path, "l.csv", raw), data_cfg()).report
    assert report.encoding == "latin-1" and "(row 2)" in report.notes[0]
    bom = write(tmp_path, "b.csv", b"\xef\xbb\xbftext,label\nx,a\ny,b\n")
    loaded = load_table(bom, data_cfg())
    assert not loaded.report.encoding_fallback and len(loaded.frame) == 2


# -- splits ------------------------------------------------------------------------------------


def test_stratified_split_keeps_class_shares_and_is_deterministic():
    labels = np.array(["a"] * 80 + ["b"] * 18 + ["c"] * 2 + ["solo"])
    train, dev = stratified_split(labels, 0.2, seed=3, task="classification")
    again = stratified_split(labels, 0.2, seed=3, task="classification")
    assert np.array_equal(train, again[0]) and np.array_equal(dev, again[1])
    assert sorted(np.concatenate([train, dev]).tolist()) == list(range(len(labels)))
    assert 100 in train  # the single "solo" example goes to train
    assert (labels[dev] == "a").sum() == 16 and (labels[dev] == "b").sum() == 4
    other = stratified_split(labels, 0.2, seed=4, task="classification")[1]
    assert not np.array_equal(dev, other)


def test_split_edge_cases():
    # More classes than dev slots: falls back to a plain shuffle instead of crashing.
    train, dev = stratified_split(list("aabbccdd"), 0.1, seed=0, task="classification")
    assert len(dev) == 1 and len(train) == 7
    train, dev = stratified_split(np.arange(10.0), 0.3, seed=0, task="regression")
    assert len(dev) == 3 and len(set(train) | set(dev)) == 10
    assert len(stratified_split(["x"], 0.5, 0, "classification")[1]) == 0


def test_kfold_covers_every_row_once():
    labels = ["a"] * 30 + ["b"] * 9 + ["c"]
    folds = stratified_kfold(labels, 5, seed=1)
    held = np.concatenate([dev for _, dev in folds])
    assert sorted(held.tolist()) == list(range(40))
    assert all(sum(np.array(labels)[dev] == "b") in (1, 2) for _, dev in folds)


# -- prepare_data -------------------------------------------------------------------------------


def _config(tmp_path: Path, **data) -> object:
    return config_from_dict({"seed": 7, "data": data}, base_dir=str(tmp_path))


def test_prepare_data_from_a_file(tmp_path):
    rows = [f"{w} thing {i},{w[:3]}" for i in range(40) for w in ("good", "bad")]
    write(tmp_path, "t.csv", "text,label\n" + "\n".join(rows) + "\n")
    prepared = prepare_data(_config(tmp_path, path="t.csv", dev_fraction=0.25, max_len=2))
    assert prepared.label_names == ["bad", "goo"]
    assert len(prepared.train) == 60 and len(prepared.dev) == 20
    assert prepared.class_counts == [30, 30]
    assert prepared.train.ids.shape == (60, 2) and prepared.train.truncated == 60
    assert prepared.train.targets.dtype == np.int64
    again = prepare_data(_config(tmp_path, path="t.csv", dev_fraction=0.25, max_len=2))
    assert np.array_equal(prepared.dev.rows, again.dev.rows)
    assert prepared.vocab.itos == again.vocab.itos
    assert prepared.fingerprint()["sha256"] == file_sha256(tmp_path / "t.csv")


def test_prepare_data_dev_labels_absent_from_train(tmp_path):
    write(tmp_path, "train.csv", "text,label\na,x\nb,y\n")
    write(tmp_path, "dev.csv", "text,label\nc,x\nd,z\ne,w\n")
    with pytest.raises(DataError) as info:
        prepare_data(_config(tmp_path, path="train.csv", dev_path="dev.csv"))
    assert "'w', 'z'" in str(info.value) and info.value.source.endswith("dev.csv")


def test_prepare_data_with_dev_file_regression(tmp_path):
    write(tmp_path, "train.csv", "text,label\na b,1\nb c,2\nc d,3\n")
    write(tmp_path, "dev.csv", "text,label\na z,2\n")
    prepared = prepare_data(
        _config(tmp_path, path="train.csv", dev_path="dev.csv", task="regression")
    )
    assert prepared.target_mean == pytest.approx(2.0)
    assert prepared.dev.targets.dtype == np.float32 and prepared.label_names == []
    assert prepared.fingerprint()["dev_path"].endswith("dev.csv")
    assert prepared.dev.unk_rate == pytest.approx(0.5)


def test_prepare_data_too_small_for_a_dev_split(tmp_path):
    write(tmp_path, "t.csv", "text,label\na,x\nb,y\n")
    with pytest.raises(DataError, match="too small"):
        prepare_data(_config(tmp_path, path="t.csv"))


def test_read_columns_exposes_every_column(tmp_path):
    path = write(tmp_path, "w.csv", "a,b,c\n1,2,3\n")
    table = read_columns(path, data_cfg(header="yes"))
    assert table.columns == ["a", "b", "c"] and table.frame.shape == (1, 3)


def test_data_package_imports_no_torch_textual_rich_or_sklearn():
    code = (
        "import sys, tuirecipe.data; "
        "print([m for m in ('torch', 'textual', 'rich', 'sklearn') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"


def test_numeric_and_boolean_cells_become_the_same_strings_as_before():
    from tuirecipe.data.loading import _as_strings

    cases = [
        (pd.Series([1.0, -0.0, np.nan, 2.5, 1e20, np.inf, 0.1, 1.0]), ["1", "0", "", "2.5"]),
        (pd.Series([1.0, np.nan, 2.5], dtype=np.float32), ["1", "", "2.5"]),
        (pd.Series([3, 1, 3], dtype=np.int64), ["3", "1", "3"]),
        (pd.Series([True, False, True]), ["true", "false", "true"]),
        (pd.Series([1, None, 1], dtype="Int64"), ["1", "<NA>", "1"]),
        (pd.Series([1.5, None], dtype="Float64"), ["1.5", "<NA>"]),
    ]
    for values, expected in cases:
        got = _as_strings(values).tolist()
        assert got[: len(expected)] == expected, (values.dtype, got)
    floats = _as_strings(cases[0][0]).tolist()
    assert floats[4:] == ["100000000000000000000", "inf", "0.1", "1"]


def test_utf16_without_a_byte_order_mark_loads_when_the_encoding_says_so(tmp_path: Path):
    raw = "text,label\nhello world,a\nbye now,b\n".encode("utf-16-le")
    path = write(tmp_path, "u16.csv", raw)
    table = load_table(path, data_cfg(encoding="utf-16-le"))
    assert table.frame["text"].tolist() == ["hello world", "bye now"]
    # without the setting, the NULs are refused as a binary file, as before
    assert "binary" in str(error_of(path))


def test_utf32_with_its_mark_is_not_read_as_utf16(tmp_path: Path):
    raw = "text,label\nhéllo,a\nbye,b\n".encode("utf-32")  # LE mark FF FE 00 00
    table = load_table(write(tmp_path, "u32.csv", raw), data_cfg())
    assert table.frame["text"].tolist() == ["héllo", "bye"]
    assert any("utf-32" in note for note in table.report.notes)


def test_json_cells_holding_objects_or_lists_are_skipped_with_their_reason(tmp_path: Path):
    records = [
        {"text": {"a": 1}, "label": "x"},
        {"text": "fine", "label": ["x", "y"]},
        {"text": "good", "label": "x"},
        {"text": "bad", "label": "y"},
    ]
    table = load_table(write(tmp_path, "nested.json", json.dumps(records)), data_cfg())
    assert table.frame["text"].tolist() == ["good", "bad"]
    reasons = {s.row: s.reason for s in table.report.skipped}
    assert reasons == {
        1: "text is a JSON object or list, not a string",
        2: "label is a JSON object or list, not a value",
    }


def test_a_json_array_of_arrays_names_why_no_row_is_usable(tmp_path: Path):
    message = str(error_of(write(tmp_path, "arrays.json", "[[1, 2], [3, 4]]")))
    assert "all 2 rows were skipped" in message and "not a JSON object" in message
