"""Runs pane, shift+r: a stopped run with a checkpoint is resumed after asking, through the
job client (same run directory, followed in the Train pane); a finished run and a damaged
checkpoint are refused in one line, and nothing starts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from support.recorded_run import write_recorded_run
from support.waiting import wait_for

from tuirecipe.config import config_from_dict
from tuirecipe.runs.jobs import JobClient
from tuirecipe.ui.app import make_app
from tuirecipe.ui.modals import ConfirmScreen

pytestmark = pytest.mark.usefixtures("without_data_pane")
FINISHED, STOPPED = "20231114-221320-demo", "20231114-231320-demo"


def with_checkpoint(run, step: int = 120) -> None:
    data = b"a checkpoint's bytes"  # the console never loads it: it checks size and sha256
    (run.path / "resume.pt").write_bytes(data)
    info = {"step": step, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (run.path / "resume.json").write_text(json.dumps(info))


@pytest.fixture
def runs(tmp_path):
    folder = tmp_path / "runs"
    finished = write_recorded_run(folder, FINISHED)
    stopped = write_recorded_run(folder, STOPPED, steps=150)
    status = stopped.read_status()
    stopped.write_status(state="stopped", started=status["started"] + 3600)  # newest: on top
    with_checkpoint(stopped)
    return finished, stopped


async def test_shift_r_resumes_a_stopped_run_through_the_job_client(tmp_path, runs) -> None:
    finished, stopped = runs
    spawned: list[list[str]] = []
    procs: list[subprocess.Popen] = []

    def worker(argv, **options):
        spawned.append(argv)
        procs.append(subprocess.Popen([sys.executable, "-c", "pass"]))
        return procs[-1]

    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs")}, base_dir=str(tmp_path)
    )
    app = make_app(config, theme="dark", settings_dir=tmp_path / "settings")
    app.follower.jobs = app.workers_client.jobs = JobClient(spawn=worker)
    try:
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await pilot.press("5")
            table = app.query_one("#runs-table")
            assert await wait_for(pilot, lambda: table.row_count == 2)
            await pilot.press("R")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")  # asked first: no starts nothing
            assert await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert spawned == [] and stopped.read_status()["state"] == "stopped"
            await pilot.press("R")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            assert await wait_for(pilot, lambda: len(spawned) == 1, 10)
            assert spawned[0][-2:] == ["tuirecipe.worker", str(stopped.path.resolve())]
            assert json.loads(stopped.job_path.read_text())["args"]["resume"] is True
            [record] = stopped.read_meta()["resumes"]
            assert record["from_step"] == 120 and record["previous_state"] == "stopped"
            train = app.query_one("#train")
            assert await wait_for(pilot, lambda: train.run is not None and train.run.id == STOPPED)

            await pilot.press("5", "down")  # the finished run
            await pilot.press("R")

            def said(words: str) -> bool:
                return any(words in str(n.message) for n in app._notifications)

            assert await wait_for(pilot, lambda: said("finished: there is nothing to resume"))
            assert not isinstance(app.screen, ConfirmScreen) and len(spawned) == 1
            assert finished.read_status()["state"] == "finished"
    finally:
        for proc in procs:
            proc.wait(timeout=30)


async def test_a_damaged_checkpoint_is_refused_before_asking(tmp_path, runs) -> None:
    _, stopped = runs
    (stopped.path / "resume.pt").write_bytes(b"a checkpoint's bytes, cut sho")
    spawned: list = []
    config = config_from_dict(
        {"name": "demo", "runs_dir": str(tmp_path / "runs")}, base_dir=str(tmp_path)
    )
    app = make_app(config, theme="dark", settings_dir=tmp_path / "settings")
    app.follower.jobs = app.workers_client.jobs = JobClient(spawn=lambda *a, **k: spawned.append(a))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("5")
        table = app.query_one("#runs-table")
        assert await wait_for(pilot, lambda: table.row_count == 2)
        await pilot.press("R")
        assert await wait_for(
            pilot, lambda: any("damaged" in str(n.message) for n in app._notifications)
        )
        assert not isinstance(app.screen, ConfirmScreen) and spawned == []
        assert stopped.read_status()["state"] == "stopped"
