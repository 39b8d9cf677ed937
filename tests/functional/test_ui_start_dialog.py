"""The start dialog with Pilot: a motivation and optional config changes, validated on
every keystroke like ``--set``; the run trains the changed config and records the diff."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from support.waiting import wait_for
from textual.widgets import Static

from tuirecipe.config import config_from_dict
from tuirecipe.ui.app import TuiRecipeApp, make_app
from tuirecipe.ui.screens.start_dialog import StartDialog

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("without_data_pane")
SIZE = (100, 30)


def make(tmp_path: Path, **table) -> TuiRecipeApp:
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs"), **table}, base_dir=str(tmp_path)
    )
    return make_app(config, theme="ansi16", settings_dir=tmp_path / "settings")


async def open_dialog(pilot) -> StartDialog:
    app = pilot.app
    await pilot.press("3")
    await pilot.pause()
    await pilot.press("s")
    assert await wait_for(pilot, lambda: isinstance(app.screen, StartDialog))
    return app.screen


def diff_line(dialog: StartDialog) -> str:
    return str(dialog.query_one("#start-diff", Static).render())


async def test_a_bad_change_is_named_and_nothing_starts(tmp_path):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot)
        assert "no config changes" in diff_line(dialog)
        await pilot.press(*"why not", "tab", *"train.lr=[/]")
        assert await wait_for(pilot, lambda: "key 'train.lr'" in diff_line(dialog))
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog  # still asking: an invalid change never starts a run
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, StartDialog))
        assert app.query_one("#train").state != "starting"


async def test_two_changed_keys_are_shown_with_the_one_change_hint(tmp_path):
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot)
        await pilot.press("tab", *"model.dropout=0.3")
        assert await wait_for(pilot, lambda: "model.dropout 0.1 → 0.3" in diff_line(dialog))
        assert "more than one key" not in diff_line(dialog)
        await pilot.press(*" train.batch_size=8")
        assert await wait_for(pilot, lambda: "more than one key" in diff_line(dialog))


@pytest.mark.slow
async def test_a_run_started_with_a_change_trains_it_and_records_the_diff(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the worker is `python -m tuirecipe…`
    app = make(tmp_path, train={"max_steps": 6, "device": "cpu", "eval_every": 3})
    async with app.run_test(size=SIZE) as pilot:
        await open_dialog(pilot)
        await pilot.press(*"less dropout", "tab", *"model.dropout=0.05", "enter")
        train = app.query_one("#train")
        assert await wait_for(pilot, lambda: train.run is not None, timeout=30)
        run = train.run
        assert await wait_for(pilot, lambda: train.state in ("finished", "failed"), 180)
        assert train.state == "finished", (run.path / "worker.log").read_text()[-2000:]
    meta = json.loads((run.path / "meta.json").read_text())
    assert meta["motivation"] == "less dropout"
    assert meta["edits"]["changed"] == {"model.dropout": [0.1, 0.05]}
    assert meta["edits"]["against"] == app.config.source
    config = tomllib.loads((run.path / "config.toml").read_text())
    assert config["model"]["dropout"] == 0.05
    assert app.config.model.dropout == 0.1  # the console's own config is unchanged
