"""The Data pane end to end (Pilot): profile, browse, filter, open, mark, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from textual.app import App, ComposeResult
from textual.widgets import Collapsible, Footer

from tuirecipe.config import Config, config_from_dict
from tuirecipe.data.cleaning import sha256_of
from tuirecipe.ui.panes.data import DataPane, ExportDialog
from tuirecipe.ui.screens.row_detail import RowDetail
from tuirecipe.ui.widgets.browser import DataBrowser
from tuirecipe.ui.widgets.profile_view import ProfileView, render_section

SAMPLE_PROFILE: dict[str, Any] = {
    "version": 1,
    "task": "classification",
    "options": {"max_len": 16},
    "size": {
        "rows": 12,
        "train_rows": 10,
        "dev_rows": 2,
        "classes": 2,
        "vocab_size": 20,
        "dev_oov_rate": 0.125,
        "scale": "tiny",
    },
    "labels": {
        "kind": "classification",
        "classes": 2,
        "counts": [
            {"label": "pos", "count": 9, "percent": 75.0},
            {"label": "neg", "count": 3, "percent": 25.0},
        ],
        "imbalance_ratio": 3.0,
        "long_tail": True,
        "long_tail_rule": "ratio >= 3",
    },
    "lengths": {
        "unit": "tokens",
        "histogram": {"edges": [0, 4, 8], "counts": [5, 6], "overflow": 1},
        "p50": 4.0,
        "p90": 7.0,
        "p95": 8.0,
        "p99": 9.0,
        "max": 20,
        "suggested_max_len": 8,
        "max_len": 16,
        "truncation_rate": 0.0833,
        "per_class": [{"label": "pos", "count": 9, "median": 4.0, "p95": 8.0}],
    },
    "duplicates": {
        "exact": {
            "surplus_rows": 2,
            "repeated_texts": 1,
            "rows_in_groups": 3,
            "groups": [
                {"text": "great stuff", "count": 3, "rows": [2, 4, 9], "labels": {"pos": 3}}
            ],
        },
        "case_space": {"surplus_rows": 3, "repeated_texts": 2, "rows_in_groups": 5, "groups": []},
    },
    "conflicts": {
        "exact": {
            "conflicting_texts": 1,
            "rows": 2,
            "groups": [{"text": "meh", "count": 2, "rows": [5, 6], "labels": {"pos": 1, "neg": 1}}],
        }
    },
    "near_duplicates": {
        "ran": True,
        "sampled": True,
        "sample_size": 10,
        "population": 40,
        "threshold": 0.8,
        "pairs": 1,
        "examples": [{"rows": [2, 7], "similarity": 0.9, "texts": ["great stuff", "great stuf"]}],
        "leakage": {"ran": True, "pairs": 3, "dev_texts_involved": 2},
    },
    "leakage": {"dev_rows_in_train": 1, "dev_share": 0.5, "examples": []},
    "corrupted": {
        "mojibake": {"count": 1, "rows": [11], "description": "Ã© sequences"},
        "empty": {"count": 0, "rows": [], "description": "blank"},
    },
    "clusters": {
        "ran": True,
        "k": 2,
        "message": "Labels follow topics: 1 of 2 clusters hold a label well above its share.",
        "label_association": {"ran": True, "cramers_v": 0.41, "p_value": 0.003},
        "label_signal": {"concentrated": 1, "slight": 0, "like_prior": 1},
        "clusters": [
            {
                "id": 0,
                "size": 6,
                "top_terms": ["great", "stuff"],
                "label_mix": [{"label": "pos", "count": 6, "share": 1.0, "prior": 0.8}],
                "signal_label": "pos",
                "lift": 1.25,
                "odds_ratio": 6.5,
                "label_signal": "concentrated",
            },
            {
                "id": 1,
                "size": 4,
                "top_terms": ["meh"],
                "label_mix": [
                    {"label": "pos", "count": 2, "share": 0.5, "prior": 0.8},
                    {"label": "neg", "count": 2, "share": 0.5, "prior": 0.2},
                ],
                "signal_label": "neg",
                "lift": 2.5,
                "label_signal": "like_prior",
            },
        ],
    },
    "advice": ["3x imbalance: consider class weights"],
    "timings": {"total": 0.1},
}


def _rendered(renderable: Any) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_every_profile_section_renders() -> None:
    text = {
        key: _rendered(render_section(key, SAMPLE_PROFILE[key]))
        for key in (
            "size",
            "labels",
            "lengths",
            "duplicates",
            "conflicts",
            "near_duplicates",
            "corrupted",
            "clusters",
            "advice",
        )
    }
    assert "12.5%" in text["size"] and "10 / 2" in text["size"]
    assert "75.0" in text["labels"] and "█" in text["labels"] and "LONG TAIL" in text["labels"]
    assert "p95 8.0" in text["lengths"] and "8.3%" in text["lengths"]
    assert "suggested max_len 8" in text["lengths"] and "≥8" in text["lengths"]
    assert "2, 4, 9" in text["duplicates"] and "case + space" in text["duplicates"]
    assert "meh" in text["conflicts"] and "neg×1" in text["conflicts"]
    assert "sampled: 10 of 40" in text["near_duplicates"] and "2 ~ 7" in text["near_duplicates"]
    assert "leakage: 3 pairs, 2 dev texts" in text["near_duplicates"]
    assert "50.0% of dev" in _rendered(render_section("leakage", SAMPLE_PROFILE["leakage"]))
    assert "mojibake" in text["corrupted"] and "empty" not in text["corrupted"]
    assert "concentrated: pos, odds ×6.5" in text["clusters"]
    assert "great, stuff" in text["clusters"]
    assert "neg 50.0% (20.0%)" in text["clusters"] and "like prior" in text["clusters"]
    assert "Labels follow topics" in text["clusters"]
    # a malformed section shows a line instead of raising
    assert "cannot show" in _rendered(render_section("labels", {"counts": [{"count": "x"}]}))


class PaneApp(App):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        yield DataPane(self.config, id="data")
        yield Footer()


ROWS = [
    ("great stuff", "pos"),
    ("awful thing", "neg"),
    ("great stuff", "pos"),
    ("meh", "pos"),
    ("meh", "neg"),
    ("fine enough", "pos"),
    ("great stuff", "pos"),
    ("really bad", "neg"),
    ("lovely", "pos"),
    ("terrible", "neg"),
    ("okay", "pos"),
    ("not good", "neg"),
]


@pytest.fixture
def data_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "reviews.csv"
    pd.DataFrame(ROWS, columns=["text", "label"]).to_csv(path, index=False)
    return config_from_dict(
        {"runs_dir": str(tmp_path / "runs"), "data": {"path": str(path), "max_len": 16}},
        base_dir=str(tmp_path),
    )


@pytest.fixture
def fake_profile(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str]]:
    """Stand in for the profiler: record its progress calls, return SAMPLE_PROFILE."""

    from tuirecipe.data import profiling
    from tuirecipe.data.profile import DatasetProfile, profile_frame

    calls: list[tuple[float, str]] = []

    def profile_cached(
        train_df: pd.DataFrame, *, fingerprint: str, cache_dir: Path, **kwargs: Any
    ) -> DatasetProfile:
        assert len(fingerprint) > 64 and cache_dir.name == "profiles"
        # the whole file, with each row's split
        assert len(kwargs["split"]) == len(train_df) == len(ROWS) and kwargs["split"].any()
        for i in range(4):
            kwargs["progress"](i / 4, f"step {i}")
            calls.append((i / 4, f"step {i}"))
        result = DatasetProfile.from_dict(SAMPLE_PROFILE)
        # the sections are made up; the row flags and groups are the real profiler's
        real = profile_frame(train_df, split=kwargs["split"], clusters=False, near_duplicates=False)
        result.flags, result.row_groups = real.flags, real.row_groups
        return result

    monkeypatch.setattr(profiling, "profile_cached", profile_cached)
    return calls


async def _settle(app: App, pilot: Any) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def test_profile_then_browse_mark_and_export(
    data_config: Config, fake_profile: list, tmp_path: Path
) -> None:
    source = Path(data_config.data.path)
    before = sha256_of(source)
    app = PaneApp(data_config)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(DataPane)
        assert len(fake_profile) == 4
        view = app.query_one(ProfileView)
        titles = [str(c.title) for c in view.query(Collapsible)]
        assert any(t.startswith("Labels") for t in titles)
        assert any(t.startswith("Near-duplicates") and "sampled" in t for t in titles)
        assert len(titles) == 10
        assert app.query_one("#profile-progress-row").has_class("-done")

        # browse, filter to duplicates
        await pilot.press("b")
        browser = app.query_one(DataBrowser)
        assert browser.has_focus and len(browser.positions) == len(ROWS)
        await pilot.press("f")  # the first flag filter: duplicate
        await pilot.pause()
        assert browser.query_state.flag == "duplicate"
        dup_rows = [int(browser.frame["row"].iat[p]) for p in browser.positions]
        # every row of a repeated text: "great stuff" (2, 4, 8) and "meh" (5, 6)
        assert dup_rows == [2, 4, 5, 6, 8]

        # open the first one: its duplicate group is listed
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RowDetail)
        group = str(app.screen.query_one("#row-detail-group").render())
        assert "row 4" in group and "row 8" in group
        await pilot.press("escape")
        await pilot.pause()

        # mark it drop: saved at once
        await pilot.press("d")
        await pilot.pause()
        marks = json.loads((tmp_path / "runs" / "data_marks.json").read_text())
        assert marks["files"][before]["marks"] == {"2": {"mark": "drop"}}
        # label-wrong on another row, then export with bulk conflict removal
        await pilot.press("f")  # duplicate → conflict
        await pilot.pause()
        assert browser.query_state.flag == "conflict"
        await pilot.press("w")
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        await pilot.click("#export-conflicts")
        await pilot.click("#export-confirm")
        await _settle(app, pilot)
        result = pane.last_export
        assert result is not None

    assert sha256_of(source) == before
    cleaned = pd.read_csv(tmp_path / "reviews.cleaned.csv")
    assert len(cleaned) == len(ROWS) - 3 and "meh" not in set(cleaned["text"])
    assert cleaned["text"].tolist().count("great stuff") == 2
    manifest = json.loads((tmp_path / "reviews.cleaned.manifest.json").read_text())
    assert manifest["source"]["sha256"] == before
    reasons = {item["row"]: item["reason"] for item in manifest["removed"]}
    assert reasons[2] == "marked: drop"
    assert reasons[5].startswith("conflict") and reasons[6].startswith("conflict")
    assert [item["row"] for item in manifest["label_wrong"]] == [5]


async def test_export_manifest_lists_the_rows_the_loader_skipped(
    data_config: Config, fake_profile: list, tmp_path: Path
) -> None:
    source = Path(data_config.data.path)
    with source.open("a", encoding="utf-8", newline="") as handle:
        handle.write('"two\nlines",\n,neg\n')  # rows 14 (lines 14-15) and 15 (line 16)
    app = PaneApp(data_config)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        await pilot.click("#export-confirm")
        await _settle(app, pilot)
        assert app.query_one(DataPane).last_export is not None
    manifest = json.loads((tmp_path / "reviews.cleaned.manifest.json").read_text())
    assert manifest["skipped_count"] == 2
    assert manifest["skipped"] == [
        {"row": 14, "line": 14, "reason": "missing label"},
        {"row": 15, "line": 16, "reason": "empty text"},
    ]
    assert len(pd.read_csv(tmp_path / "reviews.cleaned.csv")) == len(ROWS)


async def test_marks_survive_a_restart(data_config: Config, fake_profile: list) -> None:
    app = PaneApp(data_config)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        await pilot.press("b", "down", "d")
        await pilot.pause()
    app = PaneApp(data_config)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        browser = app.query_one(DataBrowser)
        assert browser.marks == {3: "drop"}
        await pilot.press("b", "f", "f", "f", "f", "f", "f")  # … → marked
        await pilot.pause()
        assert browser.query_state.flag == "marked"
        assert [int(browser.frame["row"].iat[p]) for p in browser.positions] == [3]


async def test_bad_data_file_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    config = config_from_dict(
        {"runs_dir": str(tmp_path / "runs"), "data": {"path": str(tmp_path / "missing.csv")}}
    )
    app = PaneApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        source = str(app.query_one("#data-source").render())
        assert "missing.csv" in source and "not found" in source
        await pilot.press("e")  # nothing loaded: a warning, no crash
        await pilot.pause()
        assert not isinstance(app.screen, ExportDialog)


async def test_demo_data_profiles_with_the_real_profiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs")}, base_dir=str(tmp_path)
    )
    app = PaneApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        pane = app.query_one(DataPane)
        assert pane.profile is not None and pane.profile["size"]["rows"] > 0
        titles = [str(c.title) for c in app.query_one(ProfileView).query(Collapsible)]
        for name in ("Size", "Labels", "Lengths", "Duplicates", "Corrupted rows"):
            assert any(t.startswith(name) for t in titles), (name, titles)


async def test_a_load_error_quoting_markup_is_shown_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loader's message quotes the path; "[/]" in it is text, not a closing tag.
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "odd[" / "]name"
    folder.mkdir(parents=True)
    (folder / "d.csv").write_text("text,label\nhello,a\n", encoding="utf-8")
    config = config_from_dict(
        {
            "runs_dir": str(tmp_path / "runs"),
            "data": {"path": str(folder / "d.csv"), "label_column": "y"},
        }
    )
    app = PaneApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        shown = "\n".join(str(w.render()) for w in app.query(".profile-empty"))
        assert "data.label_column" in shown and "odd[/]name" in shown, shown


async def test_the_source_line_and_label_filter_show_markup_like_text_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A loadable file whose path and labels read as markup: the pane loads it and shows
    # both as they are (the source line raised MarkupError and the profile never came).
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "d[" / "]ir"
    folder.mkdir(parents=True)
    rows = [f"text {i},{'[b]neg' if i % 2 else 'pos[/]'}" for i in range(60)]
    (folder / "d.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    config = config_from_dict(
        {"runs_dir": str(tmp_path / "runs"), "data": {"path": str(folder / "d.csv")}}
    )
    app = PaneApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        source = str(app.query_one("#data-source").render())
        assert "d[/]ir" in source and "60 rows" in source, source
        from textual.widgets import Select

        prompts = [str(p) for p, _ in app.query_one("#filter-label", Select)._options]
        assert "[b]neg" in prompts and "pos[/]" in prompts, prompts


async def test_the_row_detail_names_the_line_and_the_profiles_duplicate_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    lines = ["text,label"] + [f'"note {i}\nmore of {i}",{"ab"[i % 2]}' for i in range(20)]
    lines += ["Same Text,a", "same   text,a"]
    source = tmp_path / "multi.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = config_from_dict(
        {"runs_dir": str(tmp_path / "runs"), "data": {"path": str(source)}},
        base_dir=str(tmp_path),
    )
    app = PaneApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        browser = app.query_one(DataBrowser)
        assert browser.groups is not None
        await pilot.press("b", "f")  # the duplicate flag: the two "same text" rows
        await pilot.pause()
        assert [int(browser.frame["row"].iat[p]) for p in browser.positions] == [22, 23]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RowDetail)
        meta = str(app.screen.query_one("#row-detail-meta").render())
        assert "row 22 (line 42)" in meta
        group = str(app.screen.query_one("#row-detail-group").render())
        assert "ignoring case and spacing" in group and "row 23" in group
