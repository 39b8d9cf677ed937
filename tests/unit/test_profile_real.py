"""The profile against the statistics stated in each real dataset's SOURCE.md.

The expected numbers are parsed out of SOURCE.md (computed there independently of
tuirecipe), never copied here. Skipped when ../shared/data/real is absent.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import REAL_DATA as REAL

from tuirecipe.data.profile import profile_frame

NAMES = ["sms_spam", "trec", "sentiment_sentences", "sst2_dev", "ag_news_test"]

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="shared real datasets not present")


def _source_numbers(name: str) -> dict:
    text = (REAL / name / "SOURCE.md").read_text(encoding="utf-8")

    def number(pattern: str) -> int:
        match = re.search(pattern, text, re.M)
        assert match, f"{name}/SOURCE.md has no line matching {pattern!r}"
        return int(match.group(1).replace(",", ""))

    counts_line = re.search(r"^- label counts: (.*)$", text, re.M).group(1)
    label_counts = {k: int(v) for k, v in re.findall(r"`([^`]+)`=(\d+)", counts_line)}
    lengths = re.search(
        r"length in whitespace tokens: min ([\d.]+), median ([\d.]+), "
        r"p95 ([\d.]+), max ([\d.]+)",
        text,
    )
    return {
        "rows": number(r"^- rows: ([\d,]+)$"),
        "label_counts": label_counts,
        "exact_surplus": number(r"exact duplicate texts: ([\d,]+) surplus rows"),
        "exact_repeated": number(r"exact duplicate texts: .*? in ([\d,]+) distinct repeated"),
        "exact_conflicts": number(r"texts appearing with more than one label: ([\d,]+)"),
        "space_surplus": number(r"after lowercasing \+ whitespace collapsing: ([\d,]+) surplus"),
        "space_conflicts": number(
            r"after lowercasing \+ whitespace collapsing: .*?, ([\d,]+) "
            r"conflicting texts"
        ),
        "ws_median": float(lengths.group(2)),
        "ws_p95": float(lengths.group(3)),
        "ws_max": int(float(lengths.group(4))),
    }


@pytest.fixture(scope="module", params=NAMES)
def real(request):
    name = request.param
    frame = pd.read_csv(REAL / name / f"{name}.csv", keep_default_na=False, dtype=str)
    return name, _source_numbers(name), profile_frame(frame[["text", "label"]])


def test_duplicates_and_conflicts_match_source(real) -> None:
    name, truth, profile = real
    assert profile.size["train_rows"] == truth["rows"]
    assert profile.duplicates["exact"]["surplus_rows"] == truth["exact_surplus"], name
    assert profile.duplicates["exact"]["repeated_texts"] == truth["exact_repeated"], name
    assert profile.conflicts["exact"]["conflicting_texts"] == truth["exact_conflicts"], name
    assert profile.duplicates["case_space"]["surplus_rows"] == truth["space_surplus"], name
    assert profile.conflicts["case_space"]["conflicting_texts"] == truth["space_conflicts"], name


def test_label_counts_match_source(real) -> None:
    name, truth, profile = real
    counts = {item["label"]: item["count"] for item in profile.labels["counts"]}
    assert counts == truth["label_counts"], name
    ordered = [item["count"] for item in profile.labels["counts"]]
    assert ordered == sorted(ordered, reverse=True)


def test_whitespace_lengths_match_source(real) -> None:
    name, truth, profile = real
    ws = profile.lengths["whitespace"]
    assert ws["p50"] == truth["ws_median"], name
    assert ws["max"] == truth["ws_max"], name
    assert ws["p95"] == pytest.approx(truth["ws_p95"], abs=0.01), name


def test_largest_duplicate_group_rows_hold_that_text(real) -> None:
    name, truth, profile = real
    groups = profile.duplicates["exact"]["groups"]
    if not truth["exact_surplus"]:
        assert groups == []
        return
    frame = pd.read_csv(REAL / name / f"{name}.csv", keep_default_na=False, dtype=str)
    top = groups[0]
    assert {frame["text"].iloc[r - 1] for r in top["rows"]} == {
        frame["text"].iloc[top["rows"][0] - 1]
    }
    assert top["count"] == frame["text"].value_counts().iloc[0]


def test_near_duplicates_in_ag_news_titles() -> None:
    frame = pd.read_csv(
        REAL / "ag_news_test" / "ag_news_test.csv", keep_default_na=False, dtype=str
    )
    near = profile_frame(frame[["text", "label"]], clusters=False).near_duplicates
    assert near["ran"] and not near["sampled"]
    assert near["pairs"] >= 5
    first = near["examples"][0]
    a, b = (frame["text"].iloc[r - 1] for r in first["rows"])
    assert a != b and first["similarity"] >= near["threshold"]


def test_sst2_is_a_clean_control() -> None:
    frame = pd.read_csv(REAL / "sst2_dev" / "sst2_dev.csv", keep_default_na=False, dtype=str)
    profile = profile_frame(frame[["text", "label"]])
    assert profile.near_duplicates["pairs"] <= 2
    assert all(profile.duplicates[level]["surplus_rows"] == 0 for level in ("exact", "case_space"))
    assert not profile.flags["duplicate"].any() and not profile.flags["conflict"].any()


def test_sms_spam_html_entities_and_imbalance() -> None:
    frame = pd.read_csv(REAL / "sms_spam" / "sms_spam.csv", keep_default_na=False, dtype=str)
    profile = profile_frame(frame, clusters=False, near_duplicates=False)
    # SOURCE.md: 309 rows contain HTML entities (&lt;#&gt;, &amp;)
    expected = int(frame["text"].str.contains(r"&(?:lt|gt|amp|quot|#\d+);", regex=True).sum())
    assert profile.corrupted["html_entities"]["count"] == expected
    assert profile.labels["imbalance_ratio"] == pytest.approx(4827 / 747)


@pytest.mark.parametrize("name", NAMES)
def test_the_pipeline_a_user_runs_reports_the_whole_file(name: str, tmp_path) -> None:
    """``tuirecipe data``'s path (load, split as training does, profile): the top-level
    counts describe the whole file, as SOURCE.md does, and the splits add up to it."""
    from tuirecipe.config import config_from_dict
    from tuirecipe.data.profiling import profile_config

    truth = _source_numbers(name)
    config = config_from_dict(
        {"data": {"path": str(REAL / name / f"{name}.csv")}, "runs_dir": str(tmp_path)},
        source=str(tmp_path / "c.toml"),
        base_dir=str(tmp_path),
    )
    data, profile = profile_config(config)
    assert profile.size["rows"] == truth["rows"] and data.skipped == 0
    assert profile.duplicates["exact"]["surplus_rows"] == truth["exact_surplus"]
    assert profile.duplicates["case_space"]["surplus_rows"] == truth["space_surplus"]
    assert profile.conflicts["exact"]["conflicting_texts"] == truth["exact_conflicts"]
    counts = {item["label"]: item["count"] for item in profile.labels["counts"]}
    assert counts == truth["label_counts"]
    splits = profile.splits
    assert splits["train"]["rows"] + splits["dev"]["rows"] == truth["rows"]
    for label, count in truth["label_counts"].items():
        assert (
            splits["train"]["labels"].get(label, 0) + splits["dev"]["labels"].get(label, 0) == count
        )
