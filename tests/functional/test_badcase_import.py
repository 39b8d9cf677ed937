"""Label-wrong bad cases of runs become marks in the data browser.

Core: :func:`label_wrong_rows` gathers the runs' ``label_wrong.csv`` for one data file
(by sha256) and skips bad lists with a reason; :meth:`MarkStore.import_marks` takes them
without overriding the person's marks and remembers what it took. Pilot: the Data pane
imports them on load, keeps a ``drop`` mark, and an unmarked row stays unmarked after a
restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from textual.app import App, ComposeResult

from tuirecipe.config import Config, config_from_dict
from tuirecipe.data.cleaning import MARK_DROP, MARK_LABEL_WRONG, MarkStore, sha256_of
from tuirecipe.errors import UserError
from tuirecipe.runs.badcases import CLEANING_FILE, BadCaseMarks, label_wrong_rows
from tuirecipe.runs.rundir import RunDir, create_run_dir
from tuirecipe.ui.panes.data import DataPane
from tuirecipe.ui.widgets.browser import DataBrowser

SHA = "a" * 64
OTHER_SHA = "b" * 64


def _run(runs: Path, name: str, data: dict[str, Any] | None, wrong_rows: list[int] = ()) -> RunDir:
    """A run on ``data`` (its meta ``data`` table) whose person marked ``wrong_rows``
    label-wrong in the Train pane's bad cases (which writes ``label_wrong.csv``)."""
    run = create_run_dir(runs, name)
    run.update_meta(**({"data": data} if data is not None else {}))
    marks = BadCaseMarks(run.path)
    for row in wrong_rows:
        marks.mark(
            {"row": row, "text": f"text {row}", "gold": "pos", "pred": "neg"},
            "label_wrong",
            step=10,
        )
    return run


# -- core: gathering the lists --------------------------------------------------------------


def test_only_runs_on_the_same_file_count(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    a = _run(runs, "a", {"path": "d.csv", "sha256": SHA}, [3, 5])
    b = _run(runs, "b", {"path": "d.csv", "sha256": SHA}, [5, 9])
    other = _run(runs, "other-data", {"path": "e.csv", "sha256": OTHER_SHA}, [4])
    # dev came from a separate file: its rows are numbered in that file, not in SHA's
    dev = _run(runs, "own-dev", {"path": "d.csv", "sha256": SHA, "dev_sha256": OTHER_SHA}, [6])
    _run(runs, "no-meta-data", None, [7])
    _run(runs, "no-list", {"path": "d.csv", "sha256": SHA})

    found = label_wrong_rows(runs, SHA)
    assert found.rows == {3: [a.id], 5: sorted([a.id, b.id]), 9: [b.id]}
    assert found.runs == {a.id: 2, b.id: 2}
    assert found.skipped == []
    assert label_wrong_rows(runs, OTHER_SHA).rows == {4: [other.id], 6: [dev.id]}


def test_a_bad_list_is_skipped_with_a_reason(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    good = _run(runs, "good", {"sha256": SHA}, [2])
    not_number = _run(runs, "not-number", {"sha256": SHA})
    (not_number.path / CLEANING_FILE).write_text("row,text,gold,pred\n3,a,x,y\nabc,b,x,y\n")
    no_column = _run(runs, "no-column", {"sha256": SHA})
    (no_column.path / CLEANING_FILE).write_text("text,gold\nhello,x\n")
    binary = _run(runs, "binary", {"sha256": SHA})
    (binary.path / CLEANING_FILE).write_bytes(b"row,text\n5,\xff\xfe\x00bad\n")
    dangling = _run(runs, "dangling", {"sha256": SHA})
    (dangling.path / CLEANING_FILE).symlink_to(tmp_path / "missing.csv")  # no list at all

    found = label_wrong_rows(runs, SHA)
    assert found.rows == {2: [good.id]}  # row 3 of the half-bad list is not taken
    reasons = dict(found.skipped)
    assert set(reasons) == {not_number.id, no_column.id, binary.id}
    assert "line 3" in reasons[not_number.id] and "'abc'" in reasons[not_number.id]
    assert "no 'row' column" in reasons[no_column.id]
    assert "not UTF-8" in reasons[binary.id]


def test_no_runs_no_rows(tmp_path: Path) -> None:
    assert label_wrong_rows(tmp_path / "absent", SHA).rows == {}
    (tmp_path / "runs").mkdir()
    empty = label_wrong_rows(tmp_path / "runs", SHA)
    assert empty.rows == {} and empty.runs == {} and empty.skipped == []
    _run(tmp_path / "runs", "a", {"sha256": SHA}, [3])
    assert label_wrong_rows(tmp_path / "runs", "").rows == {}


# -- core: importing into the marks -----------------------------------------------------------


def test_import_keeps_the_persons_marks_and_remembers_what_it_took(tmp_path: Path) -> None:
    store = MarkStore(tmp_path, SHA, "d.csv")
    store.set(5, MARK_DROP)
    result = store.import_marks({3: ["run-a"], 5: ["run-a"], 99: ["run-b"]}, known_rows={3, 5, 7})
    assert result.marked == [3] and result.already_marked == [5] and result.not_found == [99]
    assert result.by_source == {"run-a": 2, "run-b": 1} and result.new_rows == 3
    assert store.marks == {3: MARK_LABEL_WRONG, 5: MARK_DROP}

    store.set(3, None)  # the person disagrees
    again = MarkStore(tmp_path, SHA)
    assert again.imported == {"run-a": {3, 5}, "run-b": {99}}
    repeat = again.import_marks({3: ["run-a"], 5: ["run-a"], 99: ["run-b"]}, known_rows={3, 5, 7})
    assert repeat.new_rows == 0 and repeat.by_source == {}
    assert again.marks == {5: MARK_DROP}
    # a new run flagging the same row is new evidence: marked again
    newer = again.import_marks({3: ["run-a", "run-c"]}, known_rows={3, 5, 7})
    assert newer.marked == [3] and newer.by_source == {"run-c": 1}
    assert MarkStore(tmp_path, SHA).marks == {3: MARK_LABEL_WRONG, 5: MARK_DROP}


def test_import_record_survives_when_every_mark_is_removed(tmp_path: Path) -> None:
    store = MarkStore(tmp_path, SHA)
    store.import_marks({4: ["run-a"]})
    store.set(4, None)
    document = json.loads((tmp_path / "data_marks.json").read_text())
    assert document["files"][SHA]["imported"] == {"run-a": [4]}
    assert MarkStore(tmp_path, SHA).import_marks({4: ["run-a"]}).new_rows == 0


# -- Pilot: the Data pane --------------------------------------------------------------------

ROWS = [
    ("great stuff", "pos"),
    ("awful thing", "neg"),
    ("meh", "pos"),
    ("fine", "pos"),
    ("really bad", "neg"),
    ("lovely", "pos"),
    ("terrible", "neg"),
    ("okay", "pos"),
]
# source row numbers 2..9 (row 1 is the header)


class PaneApp(App):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.notes: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield DataPane(self.config, id="data")

    def notify(self, message: str, *, title: str = "", **kwargs: Any) -> None:
        self.notes.append((title, message))
        super().notify(message, title=title, **kwargs)


@pytest.fixture
def data_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    from tuirecipe.data import profiling

    def no_profile(*args: Any, **kwargs: Any) -> None:
        raise UserError("no profile in this test")

    monkeypatch.setattr(profiling, "profile_dataset", no_profile)
    path = tmp_path / "reviews.csv"
    pd.DataFrame(ROWS, columns=["text", "label"]).to_csv(path, index=False)
    return config_from_dict(
        {"runs_dir": str(tmp_path / "runs"), "data": {"path": str(path), "max_len": 16}},
        base_dir=str(tmp_path),
    )


async def _loaded(app: PaneApp, pilot: Any) -> DataBrowser:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
    return app.query_one(DataBrowser)


def _bad_case_notes(app: PaneApp) -> list[str]:
    return [message for title, message in app.notes if "bad cases" in title.lower()]


async def test_data_pane_imports_runs_label_wrong_rows(data_config: Config, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    sha = sha256_of(Path(data_config.data.path))
    first = _run(runs, "first", {"path": data_config.data.path, "sha256": sha}, [3, 5, 50])
    second = _run(runs, "second", {"path": data_config.data.path, "sha256": sha}, [7])
    _run(runs, "elsewhere", {"path": "other.csv", "sha256": OTHER_SHA}, [4])
    MarkStore(runs, sha, data_config.data.path).set(5, MARK_DROP)  # the person's own mark

    app = PaneApp(data_config)
    async with app.run_test(size=(120, 30)) as pilot:
        browser = await _loaded(app, pilot)
        assert browser.marks == {3: MARK_LABEL_WRONG, 5: MARK_DROP, 7: MARK_LABEL_WRONG}
        notes = _bad_case_notes(app)
        assert len(notes) == 1, app.notes
        assert f"{first.id} (3)" in notes[0] and f"{second.id} (1)" in notes[0]
        assert "2 marked label-wrong" in notes[0] and "1 already marked" in notes[0]
        assert "1 not found" in notes[0]

        # the person unmarks row 3 (the second row of the table) in the browser
        await pilot.press("b")
        await pilot.pause()
        assert browser.has_focus and browser.current_row == 2
        await pilot.press("down")
        assert browser.current_row == 3
        await pilot.press("u")
        await pilot.pause()
        assert 3 not in browser.marks

    restarted = PaneApp(data_config)
    async with restarted.run_test(size=(120, 30)) as pilot:
        browser = await _loaded(restarted, pilot)
        assert browser.marks == {5: MARK_DROP, 7: MARK_LABEL_WRONG}
        assert _bad_case_notes(restarted) == []  # nothing new to say

    # a later run flags row 9: only it is new, and only it is told
    third = _run(runs, "third", {"path": data_config.data.path, "sha256": sha}, [3, 9])
    third_app = PaneApp(data_config)
    async with third_app.run_test(size=(120, 30)) as pilot:
        browser = await _loaded(third_app, pilot)
        assert browser.marks == {
            3: MARK_LABEL_WRONG,
            5: MARK_DROP,
            7: MARK_LABEL_WRONG,
            9: MARK_LABEL_WRONG,
        }
        notes = _bad_case_notes(third_app)
        assert len(notes) == 1 and f"{third.id} (2)" in notes[0]
        assert first.id not in notes[0]


async def test_data_pane_reports_a_bad_list_without_failing(
    data_config: Config, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    sha = sha256_of(Path(data_config.data.path))
    broken = _run(runs, "broken", {"sha256": sha})
    (broken.path / CLEANING_FILE).write_text("row,text\nseven,x\n")
    app = PaneApp(data_config)
    async with app.run_test(size=(120, 30)) as pilot:
        browser = await _loaded(app, pilot)
        assert len(browser.frame) == len(ROWS) and browser.marks == {}
        notes = _bad_case_notes(app)
        assert len(notes) == 1 and f"skipped {broken.id}" in notes[0]
        assert "'seven'" in notes[0]


async def test_bad_cases_marked_while_the_console_runs_show_when_the_pane_is_shown_again(
    data_config: Config, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    sha = sha256_of(Path(data_config.data.path))
    app = PaneApp(data_config)
    async with app.run_test(size=(120, 30)) as pilot:
        browser = await _loaded(app, pilot)
        assert browser.marks == {}
        pane = app.query_one(DataPane)
        pane.display = False  # another pane is shown (the Train pane's bad cases) …
        await pilot.pause()
        run = _run(runs, "marked-now", {"path": data_config.data.path, "sha256": sha}, [4])
        pane.display = True  # … and the Data pane again
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert browser.marks == {4: MARK_LABEL_WRONG}
        notes = _bad_case_notes(app)
        assert len(notes) == 1 and f"{run.id} (1)" in notes[0]
        pane.display = False
        await pilot.pause()
        pane.display = True
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(_bad_case_notes(app)) == 1  # said once
