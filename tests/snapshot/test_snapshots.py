"""Layout snapshots of the console shell (the Data pane's snapshot is its own test's).

Each uses an empty runs directory given as a relative path from a temporary working
directory, so no machine-specific path shows on screen. Update with
``pytest tests/snapshot/test_snapshots.py --snapshot-update`` after a deliberate layout change.
"""

from __future__ import annotations

import pytest

import tuirecipe.ui.app as app_module
from tuirecipe.config import config_from_dict
from tuirecipe.ui.app import make_app


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The Data pane (not on screen here) would load and profile data in the background.
    monkeypatch.setattr(app_module, "DATA_PANE_MODULE", "tuirecipe.ui.panes._left_out")
    config = config_from_dict({"name": "demo", "runs_dir": "runs"}, base_dir=".")
    return make_app(config, theme="dark", settings_dir=tmp_path / "settings")


def test_shell_runs_pane_120x40(snap_compare, shell):
    assert snap_compare(shell, press=["5", "_"], terminal_size=(120, 40))


def test_shell_runs_pane_80x24(snap_compare, shell):
    assert snap_compare(shell, press=["5", "_"], terminal_size=(80, 24))


def test_shell_train_pane_80x24(snap_compare, shell):
    assert snap_compare(shell, press=["3", "_"], terminal_size=(80, 24))
