"""Layout snapshots of the Checks pane with recorded results: at 120x40 (results of this
config, one of another model: stale) and at 80x24 after the model changed (all stale).

The run is written by ``support.recorded_checks.write_check_run`` with fixed timestamps,
so the snapshot never changes with the clock or the machine.
Update with ``pytest tests/snapshot/test_snapshots_checks.py --snapshot-update`` after a
deliberate layout change.
"""

from __future__ import annotations

import time

import pytest
from support.recorded_checks import write_check_run
from support.waiting import wait_for

import tuirecipe.ui.app as app_module
from tuirecipe.config import Config, config_from_dict
from tuirecipe.ui.app import make_app


def _config(**model) -> Config:
    table = {"name": "demo", "runs_dir": "runs"}
    return config_from_dict({**table, "model": model} if model else table, base_dir=".")


@pytest.fixture
def checks_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(app_module, "DATA_PANE_MODULE", "tuirecipe.ui.panes._left_out")
    config = _config()
    # fixed_seed ran on another model: stale, with why; the others on this config
    write_check_run(tmp_path / "runs", config=config, ran_on={"fixed_seed": _config(name="gru")})
    yield config
    monkeypatch.delenv("TZ")
    time.tzset()


@pytest.fixture
def checks_app(checks_config, tmp_path):
    return make_app(checks_config, theme="dark", settings_dir=tmp_path / "settings")


async def _show_warned_check(pilot) -> None:
    await pilot.press("2")
    pane = pilot.app.query_one("#checks")
    await wait_for(pilot, lambda: pane.loaded, 10)
    options = pane.query_one("#checks-list")
    options.highlighted = options.get_option_index("input_view")
    detail = pane.query_one("#check-detail")
    await wait_for(pilot, lambda: detail.view is not None and detail.view.name == "input_view", 10)
    # The detail recomposes on the next idle pass: wait until its text is there.
    await wait_for(pilot, lambda: "What to look at" in detail_text(detail), 10)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def detail_text(detail) -> str:
    return "\n".join(str(w.render()) for w in detail.query("Static, Label"))


def test_checks_pane_with_recorded_results_120x40(snap_compare, checks_app):
    assert snap_compare(checks_app, terminal_size=(120, 40), run_before=_show_warned_check)


async def _show_checks(pilot) -> None:
    await pilot.press("2")
    pane = pilot.app.query_one("#checks")
    await wait_for(pilot, lambda: pane.loaded, 10)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def test_checks_pane_after_the_model_changed_80x24(snap_compare, checks_config, tmp_path):
    """Every result ran on textcnn, the config now says fasttext: all stale, none counted."""
    checks_config.model.name = "fasttext"
    app = make_app(checks_config, theme="dark", settings_dir=tmp_path / "settings")
    assert snap_compare(app, terminal_size=(80, 24), run_before=_show_checks)
