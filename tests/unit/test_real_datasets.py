"""Loading the real datasets (../shared/data/real): counts must equal each SOURCE.md.

Both the normalized ``<name>.csv`` files and the original files are read, the originals
with the config a user would write for them (column positions for files without a
header). Skipped when the folder is absent.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import REAL_DATA, requires_real_data

from tuirecipe.config import config_from_dict
from tuirecipe.data import load_table, read_columns
from tuirecipe.errors import DataError

pytestmark = requires_real_data

DATASETS = ["sms_spam", "trec", "sentiment_sentences", "sst2_dev", "ag_news_test"]


def data_cfg(**data):
    return config_from_dict({"data": data}).data


def source_stats(name: str) -> tuple[int, dict[str, int]]:
    """``rows`` and ``label counts`` as stated in the dataset's SOURCE.md."""
    text = (REAL_DATA / name / "SOURCE.md").read_text(encoding="utf-8")
    rows = int(re.search(r"^- rows: (\d+)$", text, re.M).group(1))
    line = re.search(r"^- label counts: (.*)$", text, re.M).group(1)
    counts = {label: int(n) for label, n in re.findall(r"`([^`]+)`=(\d+)", line)}
    assert rows and counts
    return rows, counts


def label_counts(frame) -> dict[str, int]:
    return dict(Counter(frame["label"]))


@pytest.mark.parametrize("name", DATASETS)
def test_normalized_csv_matches_source_md(name):
    rows, counts = source_stats(name)
    loaded = load_table(REAL_DATA / name / f"{name}.csv", data_cfg())
    assert loaded.report.rows_read == rows and loaded.report.rows_used == rows
    assert loaded.report.skipped == [] and not loaded.report.encoding_fallback
    assert label_counts(loaded.frame) == counts
    assert loaded.frame["row"].iloc[0] == 2  # the header is row 1


def test_sms_spam_raw_tsv_label_first():
    rows, counts = source_stats("sms_spam")
    raw = load_table(
        REAL_DATA / "sms_spam" / "SMSSpamCollection", data_cfg(text_column="1", label_column="0")
    )
    assert raw.report.format == "tsv" and raw.report.rows_used == rows
    assert label_counts(raw.frame) == counts
    assert raw.frame["row"].tolist() == list(range(1, rows + 1))  # no header: line numbers
    normalized = load_table(REAL_DATA / "sms_spam" / "sms_spam.csv", data_cfg())
    assert raw.frame["text"].tolist() == normalized.frame["text"].tolist()


@pytest.mark.parametrize("source", ["amazon_cells", "imdb", "yelp"])
def test_sentiment_raw_files_keep_every_line(source):
    # yelp's copy has a `sentence<TAB>score` header (detected by name); the others none.
    path = REAL_DATA / "sentiment_sentences" / f"{source}_labelled.txt"
    columns = (
        {"text_column": "sentence", "label_column": "score"}
        if source == "yelp"
        else {"text_column": "0", "label_column": "1"}
    )
    raw = load_table(path, data_cfg(**columns))
    assert raw.report.rows_used == 1000 and raw.report.skipped == []
    assert label_counts(raw.frame) == {"0": 500, "1": 500}  # SOURCE.md: 500 per source/label
    csv_path = REAL_DATA / "sentiment_sentences" / "sentiment_sentences.csv"
    normalized = load_table(csv_path, data_cfg()).frame
    sources = load_table(csv_path, data_cfg(label_column="source")).frame["label"]
    expected = normalized.loc[sources == source.split("_")[0], "text"].tolist()
    assert raw.frame["text"].tolist() == expected  # quotes kept, no line swallowed, no CR


def test_sst2_raw_tsv_with_header():
    rows, counts = source_stats("sst2_dev")
    raw = load_table(REAL_DATA / "sst2_dev" / "dev.tsv", data_cfg(text_column="sentence"))
    assert raw.report.rows_used == rows and label_counts(raw.frame) == counts
    assert raw.frame["row"].iloc[-1] == rows + 1


def test_ag_news_raw_csv_without_header():
    rows, counts = source_stats("ag_news_test")
    names = (REAL_DATA / "ag_news_test" / "classes.txt").read_text().split()
    raw = load_table(
        REAL_DATA / "ag_news_test" / "test.csv", data_cfg(text_column="2", label_column="0")
    )
    assert raw.report.rows_used == rows
    assert {names[int(k) - 1]: n for k, n in label_counts(raw.frame).items()} == counts


def test_trec_raw_file_falls_back_to_latin1_and_names_the_row():
    rows, _ = source_stats("trec")
    path = REAL_DATA / "trec" / "train_5500.label.txt"
    table = read_columns(path, data_cfg(format="tsv", header="no", encoding="utf-8"))
    report = table.report
    assert report.encoding_fallback and report.encoding == "latin-1"
    assert "(row 66)" in report.notes[0] and "latin-1" in report.notes[0]
    assert table.frame.shape == (rows, 1)
    assert "sister\u00f0city" in table.frame.iloc[65, 0]
    # It is not a text/label table: asking for a label column says what exists.
    with pytest.raises(DataError, match="1 column"):
        load_table(path, data_cfg(format="tsv", text_column="0", label_column="1"))


def test_trec_normalized_has_the_rare_class():
    loaded = load_table(REAL_DATA / "trec" / "trec.csv", data_cfg())
    assert label_counts(loaded.frame)["ABBR"] == 86
    fine = load_table(REAL_DATA / "trec" / "trec.csv", data_cfg(label_column="fine_label"))
    assert fine.frame["label"].nunique() == 50


def test_real_data_path_is_outside_the_repository():
    repo = Path(__file__).resolve().parents[2]
    assert repo not in REAL_DATA.resolve().parents
