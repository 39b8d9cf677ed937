"""Snapshots of the Data pane at 120x40 on the demo data (profile and browser).

Update with ``pytest tests/snapshot/test_snapshots_data.py --snapshot-update`` after a deliberate
layout change, and look at the SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Footer

from tuirecipe.config import Config, config_from_dict
from tuirecipe.ui.panes.data import DataPane


class PaneApp(App):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        yield DataPane(self.config, id="data")
        yield Footer()


@pytest.fixture
def demo_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PaneApp:
    # Relative cache and runs folders: the data path shown in the pane is the same each run.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUIRECIPE_CACHE", "cache")
    return PaneApp(config_from_dict({"name": "demo", "runs_dir": "runs"}, base_dir=str(tmp_path)))


async def _profiled(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert pilot.app.query_one(DataPane).profile is not None


def test_profile_snapshot(snap_compare, demo_app: PaneApp) -> None:
    assert snap_compare(demo_app, terminal_size=(120, 40), run_before=_profiled)


def test_browser_snapshot(snap_compare, demo_app: PaneApp) -> None:
    async def browse(pilot: Pilot) -> None:
        await _profiled(pilot)
        await pilot.press("b", "f", "f", "down", "d")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(demo_app, terminal_size=(120, 40), run_before=browse)
