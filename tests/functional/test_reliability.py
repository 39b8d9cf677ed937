"""Reliability with real processes (issue 6, points 1, 2, 4 and 6; DESIGN.md §1, §7).

1. A closed terminal (SIGHUP to the console's process group) or a killed console
   (SIGKILL) leaves the run training; every step is recorded; a console started again
   re-attaches to it (its Train pane follows the running run).
2. A worker dying in native code (``os.abort()``, a NULL read via ctypes) or by SIGKILL is
   seen: the run is marked failed with the cause, its record intact, the console working.
4. Notes typed before a SIGKILL of the console are on disk (run notes and project log);
   the atomic writer leaves the old file and no temporary behind when it fails mid-write.
6. Two runs training at once from one console; two consoles following the same run;
   quitting asks about the run still training (cancel, then stop and quit).

The console runs under a pseudo-terminal (:mod:`pty_console`) where a real terminal's
behaviour matters; elsewhere Pilot drives it. Runs use a small user model that sleeps a
little each training step, so their length (tens of seconds) does not depend on the load
of the machine the way fastText's millisecond steps would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.pty_console import REPO_ROOT, PtyConsole
from support.waiting import wait_for, wait_until

import tuirecipe.ui.app as app_module
from tuirecipe.config import config_from_dict
from tuirecipe.runs import RunDir, list_runs
from tuirecipe.runs import rundir as rundir_module
from tuirecipe.runs.rundir import atomic_write_text
from tuirecipe.ui.app import TuiRecipeApp, make_app

SIZE = (120, 40)
MAX_STEPS = 300
STEP_SLEEP = 0.06  # seconds a training step sleeps: ~20 s of training for MAX_STEPS

MODELS = '''
import ctypes, os, time
from torch import nn


class Slow(nn.Module):
    """Averaged embeddings; each training forward sleeps; a chosen step can crash."""

    def __init__(self, spec):
        super().__init__()
        self.emb = nn.Embedding(spec.vocab_size, 8, padding_idx=spec.pad_id)
        self.out = nn.Linear(8, spec.num_outputs)
        self.sleep = float(spec.options.get("sleep", 0.0))
        self.fault = spec.options.get("fault", "")
        self.fail_step = int(spec.options.get("fail_step", 0))
        self.calls = 0

    def forward(self, input_ids, attention_mask):
        if self.training:
            self.calls += 1
            time.sleep(self.sleep)  # not synchronisation: a slow training step
            if self.calls == self.fail_step:
                if self.fault == "abort":
                    os.abort()
                if self.fault == "null":
                    ctypes.string_at(0)
        return self.out(self.emb(input_ids).mean(1))


def slow(spec):
    return Slow(spec)
'''


@pytest.fixture(autouse=True)
def without_data_pane(monkeypatch):
    monkeypatch.setattr(app_module, "DATA_PANE_MODULE", "tuirecipe.ui.panes._left_out")
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the worker is `python -m tuirecipe…`


def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "reliability_models.py").write_text(MODELS)
    return folder


def model_table(folder: Path, **options) -> dict:
    return {
        "name": "reliability_models:slow",
        "python_path": [str(folder)],
        "sleep": STEP_SLEEP,
        **options,
    }


def train_table(max_steps: int = MAX_STEPS) -> dict:
    return {"max_steps": max_steps, "batch_size": 8, "eval_every": 100, "device": "cpu"}


def cli_overrides(folder: Path, max_steps: int = MAX_STEPS) -> list[str]:
    args = []
    for section, table in (("model", model_table(folder)), ("train", train_table(max_steps))):
        for key, value in table.items():
            text = (
                f'["{value[0]}"]'
                if isinstance(value, list)
                else f'"{value}"'
                if isinstance(value, str)
                else str(value)
            )
            args += ["--set", f"{section}.{key}={text}"]
    return args


def make(folder: Path, **model_options) -> TuiRecipeApp:
    config = config_from_dict(
        {
            "name": "demo",
            "runs_dir": str(folder / "runs"),
            "model": model_table(folder, **model_options),
            "train": train_table(),
        },
        base_dir=str(folder),
    )
    return make_app(config, theme="dark", settings_dir=folder / "settings")


def runs_in(folder: Path) -> list[RunDir]:
    return [RunDir(Path(r.path)) for r in list_runs(folder / "runs")]


def steps(run: RunDir) -> list[int]:
    return [e.step for e in run.events() if e.kind == "step"]


def start_run_in_pty(console: PtyConsole, folder: Path, motivation: str) -> RunDir:
    assert console.wait_output("Checks", 90), console.screen_text()[-2000:]
    mark = console.mark()
    console.send("3")
    assert console.wait_output("No run followed", 30, since=mark)
    assert console.wait_output("Pause/resume", 30, since=mark)  # the Train pane has focus
    mark = console.mark()
    console.send("s")
    assert console.wait_output("why this run?", 30, since=mark)  # the prompt is up
    mark = console.mark()
    console.type(motivation)
    assert console.wait_output(motivation, 30, since=mark), "the prompt did not read the keys"
    console.send("enter")
    wait_until(lambda: len(runs_in(folder)) == 1, 60, "the run directory")
    (run,) = runs_in(folder)
    wait_until(
        lambda: len(steps(run)) >= 10,
        120,
        f"steps; worker.log: {run.log_path.read_text()[-1500:] if run.log_path.exists() else ''}",
    )
    assert run.read_meta()["motivation"] == motivation
    return run


def finishes_with_every_step(run: RunDir, timeout: float = 120.0) -> None:
    wait_until(
        lambda: run.read_status().get("state") in ("finished", "failed", "stopped"),
        timeout,
        "the run to end",
    )
    assert run.state() == "finished", run.read_status()
    assert steps(run) == list(range(1, MAX_STEPS + 1))


async def reattaches(folder: Path, run: RunDir) -> None:
    """A console started now follows the running run, shows it in the header, and sees
    new steps arrive."""
    app = make(folder)
    async with app.run_test(size=SIZE) as pilot:
        train = app.query_one("#train")
        assert await wait_for(pilot, lambda: train.run is not None, 30), "no run followed"
        assert train.run.id == run.id
        # The run is set first, its state when its status is read: both are the live run's.
        assert await wait_for(pilot, lambda: train.state == "running", 10)
        header = app.query_one("#header")
        assert await wait_for(
            pilot, lambda: (header.run_id, header.state) == (run.id, "running"), 10
        ), (header.run_id, header.state)
        assert await wait_for(pilot, lambda: len(train.history.loss) > 0, 30)
        seen = len(train.history.loss)
        assert await wait_for(pilot, lambda: len(train.history.loss) > seen + 5, 30)
        assert "re-attached" in " ".join(str(n.message) for n in app._notifications)


# -- 1. detach and re-attach ---------------------------------------------------------------
@pytest.mark.slow
async def test_a_closed_terminal_leaves_the_run_training_and_a_new_console_reattaches(tmp_path):
    folder = workspace(tmp_path)
    with PtyConsole(*cli_overrides(folder), cwd=folder) as console:
        run = start_run_in_pty(console, folder, "hangup test")
        worker = run.read_status()["pid"]
        mark = console.mark()
        console.send("n")
        assert console.wait_output("Stamp step", 30, since=mark)  # the notes editor has focus
        console.type("typed just before the terminal closed")
        # not synchronisation: the keys are read, yet less than the 1.5 s save delay passed
        time.sleep(0.3)
        console.hangup()  # the terminal window closes
        assert console.wait(30) is not None, "the console outlived its terminal"
    assert run.read_notes() == "typed just before the terminal closed"  # saved on SIGHUP
    seen = len(steps(run))
    wait_until(lambda: len(steps(run)) > seen + 10, 60, "steps after the hangup")
    assert run.state() == "running" and run.read_status()["pid"] == worker
    await reattaches(folder, run)
    finishes_with_every_step(run)


@pytest.mark.slow
async def test_a_killed_console_leaves_the_run_training_and_keeps_the_notes_typed(tmp_path):
    folder = workspace(tmp_path)
    with PtyConsole(*cli_overrides(folder), cwd=folder) as console:
        run = start_run_in_pty(console, folder, "kill test")
        # Run notes (Train pane, n), then a pause longer than the save delay.
        mark = console.mark()
        console.send("n")
        assert console.wait_output("Stamp step", 30, since=mark)  # the notes editor has focus
        console.type("lr looks high")
        wait_until(lambda: run.read_notes() == "lr looks high", 10, "the notes' delayed save")
        # The project log (Notes pane), typed without a pause, then killed at once.
        console.send("escape")
        # not synchronisation: a lone ESC reads as a key only when no byte follows at once
        time.sleep(0.5)
        mark = console.mark()
        console.send("4")
        assert console.wait_output("Project log", 30, since=mark)
        assert console.wait_output("Leave editor", 30, since=mark)  # the log editor has focus
        typed = "no pause while typing this long line of the log"
        # A key at a time, each drawn by the console before the next is sent 0.1 s later:
        # so on a busy machine the keys are not read in one late burst, and when each key
        # was read is known (the moment its echo appeared).
        read_at = []
        for i, char in enumerate(typed):
            before = console.mark()
            console.type(char, gap=0)
            assert console.wait_output(typed[: i + 1][-20:], 30, since=before), typed[: i + 1]
            read_at.append(time.monotonic())
            time.sleep(0.1)  # not synchronisation: keys spread over time, as a person types
        killed_at = time.monotonic()
        console.kill()  # SIGKILL: no chance to save anything more
        assert console.wait(30) is not None
    assert run.read_notes() == "lr looks high"
    log = (folder / "runs" / "notes.md").read_text()
    assert typed.startswith(log), log
    # Every key read more than 2.5 s before the kill is on disk (the promise is 1.8 s).
    must_keep = sum(1 for t in read_at if killed_at - t > 2.5)
    assert len(log) >= must_keep, (
        f"{len(typed) - len(log)} characters lost, {len(typed) - must_keep} allowed: {log!r}"
    )
    assert not [p for p in (folder / "runs").rglob("*.tmp")]  # no half-written leftovers
    seen = len(steps(run))
    wait_until(lambda: len(steps(run)) > seen + 10, 60, "steps after the kill")
    assert run.state() == "running"
    await reattaches(folder, run)
    # The headless way back in: `tuirecipe attach` follows it to the end.
    attached = subprocess.run(
        [sys.executable, "-m", "tuirecipe", "attach", run.id],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=150,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert attached.returncode == 0, attached.stderr
    assert "finished" in attached.stdout
    finishes_with_every_step(run)


# -- 2. a dead worker ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("fault", ["abort", "null", "sigkill"])
async def test_a_dead_worker_is_marked_failed_and_the_console_goes_on(tmp_path, fault):
    folder = workspace(tmp_path)
    fail_step = 25
    app = make(folder, fault=fault, fail_step=fail_step)
    async with app.run_test(size=SIZE) as pilot:
        train = app.query_one("#train")
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"crash", "enter")
        assert await wait_for(pilot, lambda: train.run is not None, 30)
        run = train.run
        if fault == "sigkill":
            assert await wait_for(pilot, lambda: len(steps(run)) >= fail_step - 1, 90)
            os.kill(run.read_status()["pid"], signal.SIGKILL)
        assert await wait_for(pilot, lambda: train.state == "failed", 120), (
            train.state,
            run.log_path.read_text()[-1500:],
        )
        message = str(app.query_one("#train-message").content)
        # This console started the worker, so it knows the signal that ended it.
        expected = {
            "abort": "ended by SIGABRT: aborted in native code",
            "null": "ended by SIGSEGV: crashed in native code",
            "sigkill": "ended by SIGKILL: killed",
        }[fault]
        assert "gone without finishing" in message and expected in message, message
        assert await wait_for(pilot, lambda: app.query_one("#header").state == "failed", 10)
        status = run.read_status()
        assert status["state"] == "failed" and "gone without finishing" in status["message"]
        recorded = steps(run)
        assert recorded == list(range(1, len(recorded) + 1))
        if fault != "sigkill":  # the step that crashed never ended: every one before did
            assert recorded == list(range(1, fail_step))
        # The console still works: the Runs pane lists the run as failed, keys answer.
        await pilot.press("5")
        runs = app.query_one("#runs")
        assert await wait_for(pilot, lambda: [r.state for r in runs.runs] == ["failed"], 15)
        await pilot.press("3")
        assert app.query_one("#train-start").disabled is False


# -- 4. notes never half-written ----------------------------------------------------------
def test_a_write_failing_before_the_rename_leaves_the_old_file_and_no_temporary(
    tmp_path, monkeypatch
):
    notes = tmp_path / "notes.md"
    atomic_write_text(notes, "old text\n")

    def crash(*args):
        raise OSError(28, "No space left on device")

    for target in ("replace", "fsync"):
        with monkeypatch.context() as patch:
            patch.setattr(rundir_module.os, target, crash)
            with pytest.raises(OSError):
                atomic_write_text(notes, "new text that must not half-appear\n" * 1000)
        assert notes.read_text() == "old text\n", target
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md"], target


async def test_run_notes_that_cannot_be_saved_stay_in_the_editor(tmp_path, monkeypatch):
    from support.recorded_run import write_recorded_run

    run = write_recorded_run(tmp_path / "runs", notes="kept\n")
    app = make(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        train = app.query_one("#train")
        await pilot.press("3")
        train.follow(run)
        await pilot.pause()
        train.focus()
        await pilot.press("n")

        def crash(*args):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(rundir_module.os, "replace", crash)
        await pilot.press(*"more")
        await wait_for(
            pilot, lambda: any("not saved" in str(n.message) for n in app._notifications), 10
        )
        assert run.read_notes() == "kept\n"
        assert "more" in app.query_one("#run-notes-editor").text
        assert any("not saved" in str(n.message) for n in app._notifications)
        monkeypatch.undo()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "more" in run.read_notes()


# -- 6. two at once -----------------------------------------------------------------------
@pytest.mark.slow
async def test_two_runs_at_once_from_one_console_and_two_consoles_on_one_run(tmp_path):
    folder = workspace(tmp_path)
    first_app, second_app = make(folder), make(folder)
    async with first_app.run_test(size=SIZE) as pilot:
        train = first_app.query_one("#train")
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"one", "enter")
        assert await wait_for(pilot, lambda: train.state == "running", 120)
        first = train.run
        await pilot.press("s")  # a second run while the first trains
        await pilot.pause()
        await pilot.press(*"two", "enter")
        assert await wait_for(pilot, lambda: train.run is not None and train.run.id != first.id, 60)
        second = train.run
        assert await wait_for(pilot, lambda: train.state == "running", 120)
        assert first.state() == "running"
        assert {first.id, second.id} <= set(first_app.follower.watched)
        assert {r.id for r in first_app.workers_client.running_here()} == {first.id, second.id}
        await pilot.press("5")
        runs = first_app.query_one("#runs")
        runs.refresh_runs()
        assert await wait_for(
            pilot,
            lambda: (
                {(r.id, r.state) for r in runs.runs}
                == {(first.id, "running"), (second.id, "running")}
            ),
            15,
        )

        # A second console in the same loop: it re-attaches to the newest live run and
        # names the other; both consoles show the same run's progress.
        async with second_app.run_test(size=SIZE) as other:
            other_train = second_app.query_one("#train")
            assert await wait_for(other, lambda: other_train.run is not None, 30)
            assert other_train.run.id == second.id
            notes = " ".join(str(n.message) for n in second_app._notifications)
            assert first.id in notes
            mine, theirs = len(train.history.loss), len(other_train.history.loss)
            assert await wait_for(
                other,
                lambda: (
                    len(train.history.loss) > mine + 5
                    and len(other_train.history.loss) > theirs + 5
                ),
                60,
            )
            # The second console follows the first run and stops it.
            other_train.follow(first)
            assert await wait_for(other, lambda: other_train.state == "running", 15)
            other_train.action_stop_run()  # a live run: it asks first
            assert await wait_for(
                other, lambda: type(second_app.screen).__name__ == "ConfirmScreen"
            )
            await other.press("y")
            assert await wait_for(other, lambda: other_train.state == "stopped", 60)
        # Quitting asks about the run still training here (the first has stopped).
        from tuirecipe.ui.modals import QuitScreen

        await pilot.press("3")
        await pilot.press("q")
        assert await wait_for(pilot, lambda: isinstance(first_app.screen, QuitScreen), 10)
        assert first_app.screen.run_ids == [second.id]
        await pilot.press("escape")  # cancel: the console stays
        assert await wait_for(pilot, lambda: not isinstance(first_app.screen, QuitScreen), 10)
        await pilot.press("q")
        assert await wait_for(pilot, lambda: isinstance(first_app.screen, QuitScreen), 10)
        await pilot.press("s")  # stop and quit
        await wait_for(pilot, lambda: first_app.return_code is not None, 30)
    assert first_app.return_code == 0
    wait_until(lambda: second.read_status().get("state") == "stopped", 60, "the stop")
    for run in (first, second):
        recorded = steps(run)
        assert run.state() == "stopped" and recorded == list(range(1, len(recorded) + 1))
