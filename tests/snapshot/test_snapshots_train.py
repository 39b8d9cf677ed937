"""Layout snapshots of the Train, Notes and Runs panes on a fixed, recorded run (120x40).

The run directory is written by ``recorded_run.write_recorded_run`` with fixed
timestamps; the clock is read in UTC, and the runs directory is a relative path from a
temporary working directory, so nothing machine- or time-specific shows. Update with
``pytest tests/snapshot/test_snapshots_train.py --snapshot-update`` after a deliberate change.
"""

from __future__ import annotations

import time

import pytest
from support.recorded_run import write_recorded_run
from support.waiting import wait_for

import tuirecipe.ui.app as app_module
from tuirecipe.config import config_from_dict
from tuirecipe.ui.app import make_app

SIZE = (120, 40)


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(app_module, "DATA_PANE_MODULE", "tuirecipe.ui.panes._left_out")
    write_recorded_run(tmp_path / "runs")
    config = config_from_dict(
        {
            "name": "demo",
            "runs_dir": "runs",
            "model": {"name": "fasttext"},
            "train": {"max_steps": 200},
        },
        base_dir=".",
    )
    yield make_app(config, theme="dark", settings_dir=tmp_path / "settings")
    monkeypatch.delenv("TZ")
    time.tzset()


async def open_recorded_run(pilot) -> None:
    app = pilot.app
    await pilot.press("5")
    table = app.query_one("#runs-table")
    await wait_for(pilot, lambda: table.row_count == 1 and app.focused is table, 10)
    await pilot.press("enter")
    train = app.query_one("#train")
    await wait_for(
        pilot,
        lambda: (
            len(train.history.loss) == 200
            and all(
                p.redraws and p._drawn == p.data.signature(p.size.width, p.size.height)
                for p in train.plots
                if p.display  # a short pane hides the learning-rate plot
            )
        ),
        10,
    )
    await pilot.pause()


def test_train_pane_curves_and_run_notes(snap_compare, recorded):
    async def run_before(pilot):
        await open_recorded_run(pilot)
        await wait_for(
            pilot,
            lambda: all(
                p._drawn == p.data.signature(p.size.width, p.size.height)
                for p in pilot.app.query_one("#train").plots
            ),
        )

    assert snap_compare(recorded, run_before=run_before, terminal_size=SIZE)


def test_train_pane_bad_cases(snap_compare, recorded):
    async def run_before(pilot):
        await open_recorded_run(pilot)
        await pilot.press("b")
        view = pilot.app.query_one("#badcases")
        await wait_for(pilot, lambda: view.cases, 10)
        cases = pilot.app.query_one("#badcases-table")
        await wait_for(pilot, lambda: cases.row_count > 0, 10)
        await pilot.pause()

    assert snap_compare(recorded, run_before=run_before, terminal_size=SIZE)


def test_notes_pane_showing_the_run_notes(snap_compare, recorded):
    async def run_before(pilot):
        await open_recorded_run(pilot)
        await pilot.press("4")
        notes = pilot.app.query_one("#notes")
        tabs = pilot.app.query_one("#panes")
        await wait_for(pilot, lambda: notes.loaded and tabs.active == "tab-notes", 10)
        await pilot.press("ctrl+o")
        run_view = notes.query_one("#notes-run")
        await wait_for(pilot, lambda: notes.showing_run and pilot.app.focused is run_view, 10)
        await pilot.pause()

    assert snap_compare(recorded, run_before=run_before, terminal_size=SIZE)


def test_runs_pane_with_a_recorded_run(snap_compare, recorded):
    async def run_before(pilot):
        app = pilot.app
        await pilot.press("5")
        table = app.query_one("#runs-table")
        await wait_for(pilot, lambda: table.row_count == 1 and app.focused is table, 10)
        await pilot.pause()

    assert snap_compare(recorded, run_before=run_before, terminal_size=SIZE)


def test_train_pane_80x24(snap_compare, recorded):
    """Issue 14: at 80x24 the status is two lines and loss and accuracy keep rows."""

    async def run_before(pilot):
        await open_recorded_run(pilot)

    assert snap_compare(recorded, run_before=run_before, terminal_size=(80, 24))


def test_compare_four_runs_80x24(snap_compare, tmp_path, monkeypatch):
    """Issue 14: the compare screen's plots have rows and their legend sits above them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(app_module, "DATA_PANE_MODULE", "tuirecipe.ui.panes._left_out")
    for n in range(4):
        write_recorded_run(tmp_path / "runs", f"20231114-22132{n}-lr{n}", lr=0.001 * (n + 1))
    config = config_from_dict({"name": "demo", "runs_dir": "runs"}, base_dir=".")
    app = make_app(config, theme="dark", settings_dir=tmp_path / "settings")

    async def run_before(pilot):
        await pilot.press("5")
        table = pilot.app.query_one("#runs-table")
        await wait_for(pilot, lambda: table.row_count == 4 and pilot.app.focused is table, 10)
        await pilot.press("space", "space", "space", "space", "c")
        await wait_for(pilot, lambda: pilot.app.screen.query("#compare-loss"), 10)
        screen = pilot.app.screen
        await wait_for(
            pilot,
            lambda: (
                screen.query_one("#compare-seed-noise").content != ""
                and "reading" not in str(screen.query_one("#compare-seed-noise").content)
                and all(
                    p._strips and p._drawn == p.data.signature(p.size.width, p.size.height)
                    for p in screen.query("CurvePlot")
                )
            ),
            20,
        )
        await pilot.pause()

    try:
        assert snap_compare(app, run_before=run_before, terminal_size=(80, 24))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
