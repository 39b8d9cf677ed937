"""The profile tells the whole truth: every row first, then each split; one source of
numbers for the profile, the browser's flags and the export; a cache that never serves a
profile made under other settings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REAL_DATA

from tuirecipe.config import config_from_dict
from tuirecipe.data import profiling
from tuirecipe.data.cleaning import export_cleaned
from tuirecipe.data.profile import profile_frame
from tuirecipe.data.row_flags import file_groups, profile_row_flags, removal_counts


def _frame(texts, labels) -> pd.DataFrame:
    return pd.DataFrame({"text": texts, "label": labels, "row": np.arange(2, len(texts) + 2)})


def _distinct(n: int, start: int = 0) -> list[str]:
    return [f"message number {i} about topic {i % 7}" for i in range(start, start + n)]


def test_conflicts_count_every_row_and_a_cross_split_conflict_is_not_called_optimistic():
    # 10 texts carry two labels; for 4 of them the copies fall on different sides.
    texts = _distinct(80) + [f"ambiguous text {i}" for i in range(10) for _ in range(2)]
    labels = ["a", "b"] * 40 + [lab for _ in range(10) for lab in ("a", "b")]
    split = np.zeros(len(texts), dtype=np.int8)
    split[70:80] = 1  # 10 plain dev rows
    for i in range(4):  # the second copy of ambiguous texts 0..3 goes to dev
        split[80 + 2 * i + 1] = 1
    p = profile_frame(_frame(texts, labels), split=split, clusters=False)
    assert p.conflicts["case_space"]["conflicting_texts"] == 10  # the whole data
    assert p.conflicts["case_space"]["rows"] == 20
    assert p.splits["train"]["conflicts"]["case_space"]["conflicting_texts"] == 6
    assert p.splits["dev"]["conflicts"]["case_space"]["conflicting_texts"] == 0
    assert p.leakage["dev_rows_in_train"] == 4
    assert p.leakage["conflicting_texts"] == 4 and p.leakage["same_label_dev_rows"] == 0
    advice = " ".join(p.advice)
    assert "will be optimistic" not in advice and "noisy, not optimistic" in advice
    # the rows of a split add up to the whole
    assert p.splits["train"]["rows"] + p.splits["dev"]["rows"] == p.size["rows"] == 100
    whole = {item["label"]: item["count"] for item in p.labels["counts"]}
    for label, count in whole.items():
        assert sum(p.splits[s]["labels"].get(label, 0) for s in ("train", "dev")) == count


def test_same_label_copies_across_the_split_are_a_leak_and_duplicates_inside_dev_count():
    texts = _distinct(60) + ["copy one"] * 2 + ["Copy  Two"] + ["copy two"] + ["dev twin"] * 2
    labels = ["a", "b"] * 30 + ["a", "a", "b", "b", "a", "a"]
    split = np.zeros(len(texts), dtype=np.int8)
    split[[61, 63, 64, 65]] = 1  # one copy of each pair in dev; "dev twin" twice in dev
    p = profile_frame(_frame(texts, labels), split=split, clusters=False)
    assert p.leakage["same_label_dev_rows"] == 2 and p.leakage["conflicting_texts"] == 0
    assert any("optimistic" in line for line in p.advice)
    assert p.splits["dev"]["duplicates"]["case_space"]["surplus_rows"] == 1
    assert p.splits["dev"]["duplicates"]["exact"]["surplus_rows"] == 1
    assert p.duplicates["case_space"]["surplus_rows"] == 3
    assert p.duplicates["exact"]["surplus_rows"] == 2
    group = next(g for g in p.duplicates["case_space"]["groups"] if g["text"] == "copy one")
    assert group["splits"] == ["train", "dev"]


def test_without_a_split_everything_is_training_data():
    p = profile_frame(_frame(_distinct(30), ["a", "b"] * 15), clusters=False)
    assert p.splits["ran"] is False and p.leakage["ran"] is False
    assert p.size["train_rows"] == 30 and p.size["dev_rows"] == 0


def _config(tmp_path: Path, data: dict, seed: int = 0):
    table = {"data": data, "seed": seed, "runs_dir": str(tmp_path / "runs")}
    return config_from_dict(table, source=str(tmp_path / "c.toml"), base_dir=str(tmp_path))


def _three_views(config, tmp_path: Path) -> None:
    data, prof = profiling.profile_config(config)
    flags = profile_row_flags(prof, data)
    assert flags is not None
    dup, conf = prof.duplicates["case_space"], prof.conflicts["case_space"]
    # the browser's flags count rows in groups / conflict rows
    assert int(flags["duplicate"].sum()) == dup["rows_in_groups"]
    assert int(flags["conflict"].sum()) == conf["rows"]
    counts = removal_counts(prof, len(data.frame))
    assert counts == {
        "duplicate": dup["surplus_rows"],
        "conflict": conf["rows"],
        "conflict_texts": conf["conflicting_texts"],
    }
    groups = file_groups(prof, len(data.frame))
    for flag, expected in (("duplicate", dup["surplus_rows"]), ("conflict", conf["rows"])):
        out = tmp_path / flag
        result = export_cleaned(data.path, data.frame, {}, drop_flags=(flag,), out_dir=out)
        assert result.removed == expected, flag
        # the same without the profile's groups: the export computes the same ones
        again = export_cleaned(
            data.path, data.frame, {}, drop_flags=(flag,), out_dir=out, groups=groups
        )
        assert again.removed == expected, flag
    both = export_cleaned(
        data.path, data.frame, {}, drop_flags=("duplicate", "conflict"), out_dir=tmp_path / "b"
    )
    manifest = json.loads(both.manifest_path.read_text())
    assert manifest["rules"]["duplicate"].startswith("every copy")
    assert both.removed == len({item["row"] for item in manifest["removed"]}) and both.removed <= (
        dup["surplus_rows"] + conf["rows"]
    )


def test_three_views_agree_on_the_demo(tmp_path: Path) -> None:
    config = _config(tmp_path, {"path": "demo"})
    data, prof = profiling.profile_config(config)
    # the demo file as generated: 140 surplus rows and 20 texts with two labels
    assert prof.duplicates["exact"]["surplus_rows"] == 140
    assert prof.conflicts["exact"]["conflicting_texts"] == 20
    assert prof.size["rows"] == len(data.frame)
    _three_views(config, tmp_path)


@pytest.mark.parametrize(
    "name", ["sms_spam", "trec", "sentiment_sentences", "sst2_dev", "ag_news_test"]
)
def test_three_views_agree_on_a_real_set(tmp_path: Path, name: str) -> None:
    path = REAL_DATA / name / f"{name}.csv"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    _three_views(_config(tmp_path, {"path": str(path)}), tmp_path)


def test_a_column_change_gives_a_fresh_profile(tmp_path: Path) -> None:
    path = REAL_DATA / "trec" / "trec.csv"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    coarse = profiling.profile_config(_config(tmp_path, {"path": str(path)}))[1]
    fine = profiling.profile_config(
        _config(tmp_path, {"path": str(path), "label_column": "fine_label"})
    )[1]
    assert coarse.labels["classes"] == 6 and fine.labels["classes"] == 50
    assert fine.conflicts["exact"]["conflicting_texts"] == 1


CHANGES = {
    "text_column": "body",
    "label_column": "tag",
    "task": "regression",
    "encoding": "latin-1",
    "format": "csv",
    "header": "yes",
    "dev_path": "other.csv",
    "dev_fraction": 0.2,
    "lowercase": False,
    "min_freq": 2,
    "max_vocab": 500,
    "max_len": 64,
    "split_groups": "none",
    "encoder": "encoders/minilm",  # the folder (its files are keyed where it is used)
}


def test_every_data_setting_and_the_seed_change_the_cache_key(tmp_path: Path) -> None:
    base = _config(tmp_path, {"path": "x.csv"})
    data = profiling.LoadedDataset(
        Path("x.csv"), "sha", pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    )
    key = profiling.profile_fingerprint(base, data)
    settings = {f.name for f in dataclasses.fields(base.data)}
    missing = settings - set(CHANGES) - {"path"}
    # a new [data] setting must be listed here, so this test proves it changes the key
    assert not missing, missing
    for name, value in CHANGES.items():
        changed = _config(tmp_path, {"path": "x.csv", name: value})
        assert profiling.profile_fingerprint(changed, data) != key, name
    assert profiling.profile_fingerprint(_config(tmp_path, {"path": "x.csv"}, 1), data) != key
    assert profiling.profile_fingerprint(base, data) == key


def test_the_code_version_is_part_of_the_key(tmp_path: Path, monkeypatch) -> None:
    base = _config(tmp_path, {"path": "x.csv"})
    data = profiling.LoadedDataset(
        Path("x.csv"), "sha", pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    )
    key = profiling.profile_fingerprint(base, data)
    monkeypatch.setattr(profiling, "code_version", lambda: "another")
    assert profiling.profile_fingerprint(base, data) != key


def test_regression_conflicts_use_a_tolerance_in_the_whole_data_and_each_split():
    rng = np.random.default_rng(0)
    texts = _distinct(200) + ["rated by many"] * 3 + ["rated far apart"] * 2
    values = list(rng.uniform(0, 10, 200)) + [2.89, 3.0, 3.43, 1.0, 9.0]
    frame = pd.DataFrame({"text": texts, "label": [str(v) for v in values]})
    split = np.zeros(len(texts), dtype=np.int8)
    split[[150, 151, 204]] = 1
    p = profile_frame(frame, task="regression", split=split, clusters=False)
    conf = p.conflicts["case_space"]
    assert conf["conflicting_texts"] == 1 and conf["rows"] == 2
    assert conf["within_tolerance"]["texts"] == 1
    assert conf["tolerance"]["source"] == "default"
    assert p.flags["conflict"].sum() == 2 and p.flags["conflict"][-2:].all()
    # "rated far apart" has one row in each split: no split holds the conflict alone
    assert p.splits["train"]["conflicts"]["case_space"]["conflicting_texts"] == 0
    assert p.splits["all"]["conflicts"]["case_space"]["conflicting_texts"] == 1
    assert p.leakage["conflicting_texts"] == 1


def test_the_new_findings_are_part_of_the_profile():
    texts = [f"short {i}" for i in range(60)] + [
        "a much longer review that goes on " + " ".join(["and on"] * 40) + f" {i}"
        for i in range(60)
    ]
    texts[3] = "don’t stop"
    texts[4] = "don't stop now"
    frame = pd.DataFrame({"text": texts, "label": ["a"] * 60 + ["b"] * 60})
    p = profile_frame(frame, max_len=32, clusters=False)
    assert p.length_shortcut["fires"] and p.unicode["splits_vocabulary"]
    assert any("typographic" in line for line in p.advice)
    assert any(line == p.length_shortcut["message"] for line in p.advice)
    plain = profile_frame(
        pd.DataFrame({"text": _distinct(120), "label": ["a", "b"] * 60}), clusters=False
    )
    assert not plain.length_shortcut["fires"] and not plain.unicode["fires"]


def test_the_profile_reports_no_overlap_after_a_leak_free_split(tmp_path: Path) -> None:
    path = REAL_DATA / "sms_spam" / "sms_spam.csv"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    default = profiling.profile_config(_config(tmp_path, {"path": str(path)}))[1]
    assert default.leakage["dev_rows_in_train"] == 0
    assert default.leakage["exact_dev_rows_in_train"] == 0
    assert "data.split_groups = case_space" in default.scope["whole"]
    old = profiling.profile_config(_config(tmp_path, {"path": str(path), "split_groups": "none"}))[
        1
    ]
    assert old.leakage["exact_dev_rows_in_train"] > 20  # the row-by-row split leaks
    assert "data.split_groups = none" in old.scope["whole"]


def test_rows_of_multi_line_records_carry_the_line_an_editor_shows(tmp_path: Path) -> None:
    lines = ["text,label"]
    for i in range(30):
        lines.append(f'"note {i}\nsecond line of {i}",{"ab"[i % 2]}')
    lines += ["same text,a", "  SAME text,a", ",b"]  # two copies, then an empty text
    path = tmp_path / "multi.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data, prof = profiling.profile_config(_config(tmp_path, {"path": str(path)}))
    group = prof.duplicates["case_space"]["groups"][0]
    # records 32 and 33 start on lines 62 and 63: 30 records of two lines each before
    assert group["rows"] == [32, 33] and group["lines"] == [62, 63]
    assert prof.skipped["rows"] == [{"row": 34, "line": 64, "reason": "empty text"}]
    from rich.console import Console

    from tuirecipe.ui.profile_render import render_section

    console = Console(record=True, width=120)
    console.print(render_section("duplicates", prof.duplicates))
    assert "lines 62, 63 (records 32, 33)" in console.export_text()


def test_checks_started_during_the_split_give_the_profile_computed_after_it(
    tmp_path: Path,
) -> None:
    """``tuirecipe data`` starts the corrupted-text scan and the Unicode finding while the
    split runs; the profile equals one that runs them itself, lines included."""
    lines = ["text,label"]
    for i in range(40):
        lines.append(f'"don’t stop {i}\nline two &amp; {i}",{"ab"[i % 2]}')
    lines += ["don't stop,a", "  DON'T stop,a", ",b", "ﬁne\x07 text,b"]
    path = tmp_path / "u.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = _config(tmp_path, {"path": str(path)})
    assert profiling.load_dataset(config).text_codes.started == {}
    early = profiling.load_dataset(config, start_checks=True)
    assert set(early.text_codes.started) == {"scan", "unicode"}
    with_early = profiling.profile_dataset(config, early).to_dict()
    later = profiling.load_dataset(config)
    fresh = dataclasses.replace(config, runs_dir=str(tmp_path / "other-runs"))
    without = profiling.profile_dataset(fresh, later).to_dict()
    for prof in (with_early, without):
        prof.pop("timings")
    assert with_early == without
    assert with_early["unicode"]["fires"] and with_early["unicode"]["kinds"]
    assert with_early["corrupted"]["control_chars"]["count"] == 1
    # after the header and 40 records of two lines each: 82, 83, the empty text, then 85
    assert with_early["corrupted"]["control_chars"]["lines"] == [85]
