"""How the console is wired (issue 10, point 3): panes are given their services, talk to
siblings by messages, and read no run file on the event loop."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from support.recorded_run import write_recorded_run
from support.waiting import wait_for

from tuirecipe.config import config_from_dict
from tuirecipe.runs.rundir import RunDir
from tuirecipe.ui.app import make_app

PANES = Path(__file__).resolve().parents[2] / "tuirecipe" / "ui" / "panes"
SERVICES = ("bus", "follower", "workers_client")
pytestmark = pytest.mark.usefixtures("without_data_pane")


def _reaches(path: Path) -> list[str]:
    """``self.app.<service>`` and ``app.query_one(<another pane>)`` in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in SERVICES:
            inner = node.value
            if isinstance(inner, ast.Attribute) and inner.attr == "app":
                found.append(f"{path.name}:{node.lineno} app.{node.attr}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "query_one"
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "app"
        ):
            found.append(f"{path.name}:{node.lineno} app.query_one")
    return found


def test_panes_do_not_reach_into_the_app():
    modules = sorted(PANES.glob("*.py"))
    assert len(modules) >= 5
    assert [hit for path in modules for hit in _reaches(path)] == []


def test_the_scan_finds_a_reach_into_the_app(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "class P:\n"
        "    def f(self):\n"
        "        self.app.bus.publish('command', 1)\n"
        "        self.app.query_one(Other).follow(2)\n"
    )
    assert _reaches(sample) == ["sample.py:3 app.bus", "sample.py:4 app.query_one"]


async def test_following_a_run_reads_its_files_off_the_event_loop(tmp_path, monkeypatch):
    """Follow a finished run, stamp its notes, look at the bad cases and the run notes
    in the Notes pane: every read of the run directory happens in a thread."""
    on_loop: list[str] = []

    def watch(name: str) -> None:
        original = getattr(RunDir, name)

        def recorded(self, *args, **kwargs):
            if threading.current_thread() is threading.main_thread():
                on_loop.append(name)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(RunDir, name, recorded)

    for name in ("read_status", "read_meta", "state", "events", "read_notes"):
        watch(name)
    run = write_recorded_run(tmp_path / "runs")
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs")}, base_dir=str(tmp_path)
    )
    app = make_app(config, theme="dark", settings_dir=tmp_path / "settings")
    async with app.run_test(size=(120, 40)) as pilot:
        train = app.query_one("#train")
        await pilot.press("3")
        train.follow(run)
        assert await wait_for(pilot, lambda: len(train.history.loss) == 200)
        assert await wait_for(pilot, lambda: train.state == "finished")
        assert "why: baseline to beat" in str(app.query_one("#train-run").content)
        assert app.query_one("#train-progress").total == 200
        train.focus()
        await pilot.press("n")
        assert await wait_for(pilot, lambda: not app.query_one("#run-notes-editor").read_only)
        await pilot.press("ctrl+t")
        editor = app.query_one("#run-notes-editor")
        assert "no parent run" in editor.text and "step 200" in editor.text
        await pilot.press("escape", "b")
        assert await wait_for(pilot, lambda: app.query_one("#badcases-table").row_count > 0)
        await pilot.press("4", "ctrl+o")
        view = app.query_one("#notes-run")
        assert await wait_for(pilot, lambda: "no parent run" in view.text)
        await pilot.press("ctrl+q")
    assert on_loop == []
    # The reads were watched for real: the same calls on this thread are seen.
    run.read_meta()
    assert on_loop == ["read_meta"]


async def test_run_buttons_tell_the_pane_by_message(tmp_path):
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs")}, base_dir=str(tmp_path)
    )
    app = make_app(config, theme="dark", settings_dir=tmp_path / "settings")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert app.query_one("#train-stop").disabled
        app.query_one("#train-stop").disabled = False  # as if a run were live
        await pilot.click("#train-stop")
        assert await wait_for(
            pilot, lambda: any("no run to stop" in str(n.message) for n in app._notifications)
        )
