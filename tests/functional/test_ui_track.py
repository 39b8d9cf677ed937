"""The console follows a run tracked from a user's own script (examples/plain_loop.py in a
subprocess) live: the run is listed, its loss curve grows, a note is written beside it,
and Ctrl-C in the script shows as stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.waiting import wait_for

from tuirecipe.config import config_from_dict
from tuirecipe.ui.app import make_app

pytestmark = pytest.mark.usefixtures("without_data_pane")
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "plain_loop.py"


async def test_the_console_follows_a_tracked_script_live(tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        # Many steps at a slow pace: the test ends it with Ctrl-C once it has seen enough.
        [
            sys.executable,
            str(EXAMPLE),
            "--runs-dir",
            str(runs),
            "--steps",
            "100000",
            "--pace",
            "0.01",
            "--eval-every",
            "20",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().decode().strip()  # printed once the run exists
        assert run_id, proc.stderr.read().decode() if proc.stderr else ""
        config = config_from_dict({"name": "demo", "runs_dir": str(runs)}, base_dir=str(tmp_path))
        app = make_app(config, theme="dark", settings_dir=tmp_path / "settings")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            table = app.query_one("#runs-table")
            assert await wait_for(pilot, lambda: table.row_count == 1, 30)
            assert await wait_for(pilot, lambda: app.focused is table)
            await pilot.press("enter")
            train = app.query_one("#train")
            assert await wait_for(pilot, lambda: train.run is not None and train.run.id == run_id)
            assert await wait_for(pilot, lambda: len(train.history.loss) > 0, 60)
            seen = len(train.history.loss)
            assert await wait_for(pilot, lambda: len(train.history.loss) > seen + 20, 60)
            assert await wait_for(pilot, lambda: "loss" in train.history.dev, 60)
            assert train.state == "running"
            # A note beside the live run, written in the console.
            await pilot.press("3")
            train.focus()
            await pilot.press("n")
            editor = app.query_one("#run-notes-editor")
            assert await wait_for(pilot, lambda: not editor.read_only, 10)
            await pilot.press(*"lr-looks-fine", "ctrl+s")
            notes = runs / run_id / "notes.md"
            assert await wait_for(
                pilot, lambda: notes.is_file() and "lr-looks-fine" in notes.read_text(), 10
            )
            proc.send_signal(signal.SIGINT)  # Ctrl-C in the user's terminal
            assert await wait_for(pilot, lambda: proc.poll() is not None, 60)
            assert await wait_for(pilot, lambda: train.state == "stopped", 30)
            assert "lr-looks-fine" in notes.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_the_console_shows_the_rows_a_followed_csv_gets(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,step,train_loss,val_loss\n0,1,1.5,\n0,2,1.4,\n", encoding="utf-8")
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuirecipe", "follow", str(log), "--runs-dir", str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b"following ")  # the run exists
        config = config_from_dict({"name": "demo", "runs_dir": str(runs)}, base_dir=str(tmp_path))
        app = make_app(config, theme="dark", settings_dir=tmp_path / "settings")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            table = app.query_one("#runs-table")
            assert await wait_for(pilot, lambda: table.row_count == 1, 30)
            assert await wait_for(pilot, lambda: app.focused is table)
            await pilot.press("enter")
            train = app.query_one("#train")
            assert await wait_for(pilot, lambda: len(train.history.loss) == 2, 30)
            with open(log, "a", encoding="utf-8") as handle:
                handle.write("0,3,1.25,\n0,3,,1.3\n")
            assert await wait_for(pilot, lambda: len(train.history.loss) == 3, 30)
            assert train.history.loss.y[-1] == 1.25
            assert await wait_for(pilot, lambda: "loss" in train.history.dev, 30)
            assert train.history.dev["loss"].y[-1] == 1.3
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
