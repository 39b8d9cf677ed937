"""A user's script tracked with ``tuirecipe.track``, run as its own process: killed, it is
failed at its last step; crashed, failed with its error line; finished, it compares with
a worker's run through ``tuirecipe compare``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tuirecipe.cli import main
from tuirecipe.events import Error, StepMetrics
from tuirecipe.runs.listing import list_runs, summarize
from tuirecipe.runs.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "plain_loop.py"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "user_script.py"
    script.write_text(
        "import sys\nimport tuirecipe.track\n"
        f"run = tuirecipe.track.start(name='mine', runs_dir={str(tmp_path / 'runs')!r})\n"
        + textwrap.dedent(body),
        encoding="utf-8",
    )
    return script


def _only_run(tmp_path: Path) -> RunDir:
    runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1
    return RunDir(runs[0])


def test_a_killed_script_is_failed_at_its_last_step(tmp_path):
    script = _script(
        tmp_path,
        """
        for step in range(1, 38):
            run.log(step, train_loss=1.0 / step)
        run.flush()
        print("logged", flush=True)
        sys.stdin.read()  # waits for the test to kill it
        """,
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"logged"
        run = _only_run(tmp_path)
        assert run.state() == "running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # A reader (the runs listing, as `tuirecipe runs` and the console use) finds it dead.
    [summary] = list_runs(tmp_path / "runs")
    assert summary.state == "failed" and summary.last_step == 37
    assert "is gone without finishing" in summary.message
    errors = [e for e in run.events() if isinstance(e, Error)]
    assert len(errors) == 1 and errors[0].step == 37
    assert run.read_status()["state"] == "failed"


def test_an_uncaught_exception_fails_the_run_with_its_line(tmp_path):
    script = _script(
        tmp_path,
        """
        for step in range(1, 6):
            run.log(step, loss=0.5)
        raise RuntimeError("the data loader ran dry")
        """,
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, env=_env(), cwd=tmp_path, timeout=120
    )
    assert done.returncode == 1 and b"ran dry" in done.stderr
    run = _only_run(tmp_path)
    status = run.read_status()
    assert status["state"] == "failed" and status["step"] == 5
    assert status["message"] == "RuntimeError: the data loader ran dry"
    assert [e.step for e in run.events() if isinstance(e, StepMetrics)] == [1, 2, 3, 4, 5]


def test_a_script_that_ends_without_finish_is_finished(tmp_path):
    script = _script(tmp_path, "run.log(3, loss=0.25)\n")
    subprocess.run([sys.executable, str(script)], env=_env(), cwd=tmp_path, check=True, timeout=120)
    summary = summarize(_only_run(tmp_path))
    assert summary.state == "finished" and summary.last_step == 3


def test_compare_a_tracked_example_run_with_a_worker_run(tmp_path, capsys):
    from tuirecipe.config import config_from_dict
    from tuirecipe.runs.jobs import JobClient

    runs = tmp_path / "runs"
    # A real worker run (the demo, a few steps) and the example script, side by side.
    config = config_from_dict(
        {
            "name": "worker",
            "runs_dir": str(runs),
            "model": {"name": "fasttext"},
            "train": {"lr": 0.001, "max_steps": 5, "eval_every": 5, "device": "cpu"},
        },
        base_dir=str(tmp_path),
    )
    jobs = JobClient()
    job = jobs.start(config, "train")
    example = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLE),
            "--runs-dir",
            str(runs),
            "--steps",
            "30",
            "--eval-every",
            "10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    out, err = example.communicate(timeout=300)
    assert example.returncode == 0, err
    assert jobs.wait(job, timeout=300) == 0, job.log_path.read_text(encoding="utf-8")
    tracked, worker = out.split()[0], job.run.id
    code = main(["compare", "--runs-dir", str(runs), "--json", tracked, worker])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    by_id = {r["id"]: r for r in report["runs"]}
    assert by_id[tracked]["job"] == "track" and by_id[tracked]["state"] == "finished"
    assert by_id[worker]["job"] == "train" and by_id[worker]["state"] == "finished"
    assert set(by_id[tracked]["best"]) == {"loss", "acc"}
    assert {"loss", "acc"} <= set(by_id[worker]["best"])
    keys = {row["key"]: row["values"] for row in report["keys"]}
    assert keys["train.lr"] == [0.05, 0.001]
    assert keys["model.name"] == ["bag-of-words", "fasttext"]
    assert any("differ in" in w for w in report["warnings"])
    # and as a table, for a person
    assert main(["compare", "--runs-dir", str(runs), tracked, worker]) == 0
    table = capsys.readouterr().out
    assert "bag-of-words" in table and "best dev acc" in table
