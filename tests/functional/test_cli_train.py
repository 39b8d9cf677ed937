"""The headless CLI driving real worker processes: train, stop, survive, list, attach."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.waiting import wait_until

from tuirecipe.runs import RunDir, list_runs

# Small and quick, but the real demo data, real model and real worker process.
FAST = ["--set", "model.name=fasttext", "--set", "train.lr=0.003", "--set", "train.batch_size=64"]


def tuirecipe(*args: str, cwd: Path, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def only_run(cwd: Path) -> RunDir:
    runs = list_runs(cwd / "runs")
    assert len(runs) == 1, [r.id for r in runs]
    return RunDir(Path(runs[0].path))


def step_losses(run: RunDir) -> list[float]:
    return [e.loss for e in run.events() if e.kind == "step"]


@pytest.mark.parametrize("command", ["train", "check", "data", "runs", "attach", "tui"])
def test_help_on_every_command(command: str, tmp_path: Path) -> None:
    result = tuirecipe(command, "--help", cwd=tmp_path, timeout=30)
    assert result.returncode == 0 and "usage: tuirecipe" in result.stdout


def test_training_the_demo_lowers_dev_loss_and_records_the_run(tmp_path: Path) -> None:
    result = tuirecipe(
        "train",
        *FAST,
        "--set",
        "train.epochs=2",
        "--set",
        "train.eval_every=40",
        "-m",
        "first look",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run = only_run(tmp_path)
    evals = [e.metrics["loss"] for e in run.events() if e.kind == "eval"]
    assert len(evals) >= 3
    assert evals[-1] < evals[0] * 0.8
    meta = run.read_meta()
    assert meta["motivation"] == "first look"
    assert meta["data"]["rows"] > 5000 and len(meta["data"]["sha256"]) == 64
    assert meta["versions"]["torch"] and meta["device"] == "cpu" and meta["seed"] == 0
    assert (run.path / "config.toml").read_text().count("fasttext") == 1
    assert run.read_status()["state"] == "finished"
    steps = [e.step for e in run.events() if e.kind == "step"]
    assert steps == list(range(1, len(steps) + 1))
    # the resolved precision and how the run executes, for throughput figures (issue 16)
    execution = meta["execution"]
    assert execution["precision"] == "fp32" and execution["precision_reason"].startswith("auto")
    assert execution["log_every"] == 1 and execution["fused_optimizer"] is False
    assert execution["non_embedding_params"] > 0 and execution["threads"] >= 1
    last = [e for e in run.events() if e.kind == "step"][-1]
    assert last.tokens > last.examples  # every real token of every example
    listed = tuirecipe("runs", "--json", cwd=tmp_path, timeout=30)
    (row,) = json.loads(listed.stdout)
    assert row["state"] == "finished" and row["best"]["loss"] == pytest.approx(min(evals))
    assert row["throughput"]["tokens_per_s"] == pytest.approx(last.tokens / last.elapsed)
    assert row["throughput"]["tflops"] is None  # on CUDA only
    table = tuirecipe("runs", cwd=tmp_path, timeout=30).stdout
    assert "throughput" in table and "tok/s" in table


def test_same_seed_same_losses_other_seed_different(tmp_path: Path) -> None:
    losses = []
    for i, seed in enumerate((3, 3, 4)):
        cwd = tmp_path / str(i)
        cwd.mkdir()
        result = tuirecipe(
            "train", *FAST, "--set", "train.max_steps=25", "--set", f"seed={seed}", "-q", cwd=cwd
        )
        assert result.returncode == 0, result.stderr
        losses.append(step_losses(only_run(cwd)))
    assert len(losses[0]) == 25
    assert losses[0] == losses[1]  # bitwise: JSON keeps every digit of a float
    assert losses[0] != losses[2]


def test_sigkill_of_the_cli_leaves_the_worker_training_to_the_end(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuirecipe",
            "train",
            *FAST,
            "--set",
            "train.max_steps=300",
            "--set",
            "train.batch_size=32",
            "--set",
            "model.name=textcnn",
            "-q",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(
        lambda: (
            (tmp_path / "runs").is_dir()
            and list_runs(tmp_path / "runs")
            and len(step_losses(only_run(tmp_path))) >= 5
        ),
        timeout=120,
    )
    run = only_run(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(step_losses(run)) < 300, "the run ended before the CLI was killed"
    wait_until(
        lambda: run.read_status().get("state") in ("finished", "failed", "stopped"), timeout=240
    )
    assert run.read_status()["state"] == "finished"
    steps = [e.step for e in run.events() if e.kind == "step"]
    assert steps == list(range(1, 301))


def test_ctrl_c_stops_the_run_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuirecipe", "train", *FAST, "--set", "train.epochs=50", "-q"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(
        lambda: (
            (tmp_path / "runs").is_dir()
            and list_runs(tmp_path / "runs")
            and len(step_losses(only_run(tmp_path))) >= 3
        ),
        timeout=120,
    )
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = only_run(tmp_path)
    assert run.read_status()["state"] == "stopped"
    assert [e.state for e in run.events() if e.kind == "status"][-1] == "stopped"


def test_attach_follows_a_finished_run(tmp_path: Path) -> None:
    assert (
        tuirecipe("train", *FAST, "--set", "train.max_steps=10", "-q", cwd=tmp_path).returncode == 0
    )
    run = only_run(tmp_path)
    result = tuirecipe("attach", run.id[-10:], cwd=tmp_path, timeout=60)
    assert result.returncode == 0 and "finished" in result.stdout


def test_bad_data_fails_the_run_with_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("text,label\nhello,a\n", encoding="utf-8")
    result = tuirecipe(
        "train",
        "--set",
        "data.path=d.csv",
        "--set",
        "data.label_column=y",
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("tuirecipe: error")]
    assert len(errors) == 1 and "data.label_column" in errors[0]
    run = only_run(tmp_path)
    assert run.read_status()["state"] == "failed"


def test_pause_and_resume_by_signal(tmp_path: Path) -> None:
    from tuirecipe.runs.jobs import JobClient, Signalled

    def send_control(run: RunDir, action: str) -> bool:
        # A client that did not start the worker: it signals only after verifying it.
        return JobClient().control(run, action) is Signalled.SENT

    run_id = tuirecipe(
        "train", *FAST, "--set", "train.epochs=50", "--detach", cwd=tmp_path, timeout=30
    ).stdout.strip()
    run = RunDir(tmp_path / "runs" / run_id)
    wait_until(lambda: len(step_losses(run)) >= 3, timeout=120)
    assert send_control(run, "pause")
    wait_until(lambda: run.read_status().get("state") == "paused", timeout=30)
    n = len(step_losses(run))
    time.sleep(1.0)  # not synchronisation: time must pass to show a paused run takes no steps
    assert len(step_losses(run)) <= n + 1
    assert send_control(run, "resume")
    wait_until(lambda: len(step_losses(run)) > n + 5, timeout=60)
    assert send_control(run, "stop")
    wait_until(lambda: run.read_status().get("state") == "stopped", timeout=60)
    pid = run.read_status()["pid"]
    wait_until(
        lambda: (
            not os.path.exists(f"/proc/{pid}")
            or open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"
        ),
        timeout=30,
    )


def test_log_lines_quoting_markup_are_printed_literally(tmp_path: Path) -> None:
    # The folder's name reads as Rich markup ("[/]" closes a tag that was never opened);
    # the worker's "skipped rows of <path>" warning quotes it and must print as text.
    folder = tmp_path / "odd[" / "]name[bold]"
    folder.mkdir(parents=True)
    rows = [f"ticket {i} about billing,{'a' if i % 2 else 'b'}" for i in range(60)]
    (folder / "d.csv").write_text("text,label\n" + "\n".join(rows) + "\n,a\n", encoding="utf-8")
    result = tuirecipe(
        "train",
        *FAST,
        "--set",
        f"data.path={folder / 'd.csv'}",
        "--set",
        "train.max_steps=3",
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # (Rich wraps a long path at the terminal's width: compare without the line breaks)
    assert "odd[/]name[bold]" in result.stderr.replace("\n", ""), result.stderr


def test_runs_lists_a_markup_like_motivation_literally(tmp_path: Path) -> None:
    from tuirecipe.config import demo_config
    from tuirecipe.runs.launch import prepare_run

    config = demo_config()
    config.runs_dir = str(tmp_path / "runs")
    prepare_run(config, motivation="why [/] [b]x")
    result = tuirecipe(
        "runs",
        "--runs-dir",
        str(tmp_path / "runs"),
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "why [/] [b]x" in result.stdout
