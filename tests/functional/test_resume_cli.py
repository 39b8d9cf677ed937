"""`tuirecipe resume` with real worker processes: a worker killed (SIGKILL, mid-step,
after its checkpoint) is resumed in the same run directory and the run's loss curve is
the uninterrupted one's, step for step, with no step recorded twice; runs that cannot be
resumed are refused in one line with exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from support import SUPPORT
from support.cli import run_tuirecipe as tuirecipe

from tuirecipe.runs import RunDir, list_runs

KILL_STEP = 11  # dies in step 11's forward pass: step 10 is recorded past the checkpoint
# good.csv has 40 rows (36 train): batch 8 → 5 steps an epoch, 20 in all; checkpoints at
# 3, 6, 9, …; a dev evaluation at each epoch's end (steps 5, 10, …).
SETTINGS = [
    "--set",
    "data.path=good.csv",
    "--set",
    f'model.python_path=["{SUPPORT}"]',
    "--set",
    "model.name=fault_models:killed_once",
    "--set",
    f"model.fail_step={KILL_STEP}",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.epochs=4",
    "--set",
    "train.threads=1",
    "--set",
    "train.lr=0.01",
    "--set",
    "train.schedule=one_cycle",
    "--set",
    "train.checkpoint_every=3",
    "-q",
]


def workspace(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    shutil.copy(SUPPORT / "bad_inputs" / "good.csv", folder / "good.csv")
    return folder


def kill_once(folder: Path) -> list[str]:
    """The setting that arms the model's one SIGKILL (the worker runs in its run dir, so
    the marker's path is absolute)."""
    marker = folder / "kill-once"
    marker.write_text("")
    return ["--set", f'model.kill_marker="{marker}"']


def the_run(folder: Path) -> RunDir:
    (run,) = list_runs(folder / "runs")
    return RunDir(Path(run.path))


def step_losses(run: RunDir) -> dict[int, float]:
    steps = [e for e in run.events() if e.kind == "step"]
    assert len({e.step for e in steps}) == len(steps), "a step read back twice"
    return {e.step: e.loss for e in steps}


def test_a_killed_run_resumes_in_place_on_the_uninterrupted_curve(tmp_path: Path) -> None:
    reference = workspace(tmp_path, "reference")
    done = tuirecipe("train", *SETTINGS, cwd=reference)
    assert done.returncode == 0, done.stderr
    want = step_losses(the_run(reference))
    assert list(want) == list(range(1, 21))

    folder = workspace(tmp_path, "killed")
    killed = tuirecipe("train", *SETTINGS, *kill_once(folder), cwd=folder)
    run = the_run(folder)
    # the CLI followed the run until its worker was gone: it waited on the run dir
    assert killed.returncode == 1 and "SIGKILL" in killed.stderr, killed.stderr
    assert run.read_status()["state"] == "failed" and not (folder / "kill-once").exists()
    assert json.loads((run.path / "resume.json").read_text())["step"] == 9
    raw_steps = [e.step for e in run.events() if e.kind == "step"]
    assert raw_steps == list(range(1, KILL_STEP))  # step 10 is past the checkpoint

    resumed = tuirecipe("resume", run.id, "--runs-dir", "runs", "-q", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert f"run {run.id}: finished at step 20" in resumed.stdout
    assert list_runs(folder / "runs")[0].id == run.id and len(list_runs(folder / "runs")) == 1

    lines = [json.loads(line) for line in run.events_path.read_text().splitlines()]
    written = [e["step"] for e in lines if e["type"] == "step"]
    assert written.count(10) == 2  # the file is append-only: the first step 10 stays …
    assert [e["step"] for e in lines if e["type"] == "resumed"] == [9]
    got = step_losses(run)  # … and readers drop it: one curve
    assert list(got) == list(range(1, 21))
    for step, loss in want.items():
        assert abs(got[step] - loss) <= 1e-6, (step, got[step], loss)
    status, meta = run.read_status(), run.read_meta()
    assert status["state"] == "finished" and status["step"] == 20
    [record] = meta["resumes"]
    assert record["from_step"] == 9 and record["previous_state"] == "failed"
    assert not (run.path / "resume.pt").exists()  # finished: nothing left to resume

    again = tuirecipe("resume", run.id, "--runs-dir", "runs", cwd=folder)
    assert again.returncode == 2
    [line] = again.stderr.strip().splitlines()
    assert "finished: there is nothing to resume" in line


def test_resume_refuses_a_run_without_a_checkpoint_or_a_damaged_one(tmp_path: Path) -> None:
    folder = workspace(tmp_path, "plain")
    # a later --set wins: this run writes no checkpoint
    settings = [*SETTINGS, "--set", "train.checkpoint_every=0", "--set", "train.max_steps=4"]
    killed = tuirecipe(
        "train", *settings, *kill_once(folder), "--set", "model.fail_step=3", cwd=folder
    )
    assert killed.returncode == 1
    run = the_run(folder)
    out = tuirecipe("resume", run.id, "--runs-dir", "runs", cwd=folder)
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert "no resume checkpoint" in line and "train.checkpoint_every" in line
    # a checkpoint damaged on disk is refused before any worker starts
    (run.path / "resume.pt").write_bytes(b"\x00" * 64)
    (run.path / "resume.json").write_text(json.dumps({"step": 2, "bytes": 64, "sha256": "0" * 64}))
    out = tuirecipe("resume", run.id, "--runs-dir", "runs", cwd=folder)
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert "damaged" in line and run.id in line
    assert run.read_status()["state"] == "failed"


def test_resume_has_help_and_names_a_missing_run_in_one_line(tmp_path: Path) -> None:
    helped = tuirecipe("resume", "--help", cwd=tmp_path, timeout=60)
    assert helped.returncode == 0 and "train.checkpoint_every" in helped.stdout
    missing = tuirecipe("resume", "no-such-run", "--runs-dir", "runs", cwd=tmp_path, timeout=60)
    assert missing.returncode == 2
    [line] = missing.stderr.strip().splitlines()
    assert "no run 'no-such-run'" in line
