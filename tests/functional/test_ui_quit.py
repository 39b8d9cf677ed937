"""Quitting the console knows about the sweeps started from it (issue 10, point 1).

A sweep typed in the Runs pane runs as a detached ``tuirecipe sweep`` process started by
the console's job client; the quit dialog names it beside the runs still training, and
"stop and quit" stops it (SIGTERM: the sweep stops its workers and marks its parent run).
The job client's process is a stand-in that sleeps, so the test is about the console, not
about training.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from support.waiting import wait_for, wait_until

from tuirecipe.config import config_from_dict
from tuirecipe.runs.jobs import JobClient
from tuirecipe.ui.app import make_app
from tuirecipe.ui.modals import QuitScreen

pytestmark = pytest.mark.usefixtures("without_data_pane")


async def test_quitting_names_a_sweep_started_here_and_stop_stops_it(tmp_path):
    spawned: list[list[str]] = []
    procs: list[subprocess.Popen] = []

    def sleeper(argv, **options):
        spawned.append(argv)
        procs.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        return procs[-1]

    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs")}, base_dir=str(tmp_path)
    )
    app = make_app(config, theme="dark", settings_dir=tmp_path / "settings")
    app.follower.jobs = app.workers_client.jobs = JobClient(spawn=sleeper)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            await pilot.pause()
            await pilot.press("w")
            await pilot.pause()
            await pilot.press(*"train.lr=0.001,0.003", "enter")
            assert await wait_for(pilot, lambda: len(spawned) == 1, 10)
            assert spawned[0][3:4] == ["sweep"] and "train.lr=0.001,0.003" in spawned[0]

            await pilot.press("q")
            assert await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), 10)
            assert app.screen.run_ids == ["sweep train.lr = 0.001, 0.003"]
            await pilot.press("escape")  # cancel: the sweep goes on
            assert await wait_for(pilot, lambda: not isinstance(app.screen, QuitScreen), 10)
            assert procs[0].poll() is None
            await pilot.press("q")
            assert await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), 10)
            await pilot.press("s")  # stop and quit
            await wait_for(pilot, lambda: app.return_code is not None, 10)
        assert app.return_code == 0
        wait_until(lambda: procs[0].poll() is not None, 10, "the sweep to be stopped")
        assert procs[0].returncode == -signal.SIGTERM
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
