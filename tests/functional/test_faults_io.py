"""Faults of the machine around a run, injected (issue 13; DESIGN.md §7).

* **Disk full** at each write point: an ``events.jsonl`` append, ``status.json``, the
  vocabulary and the checkpoint (planted in the worker with
  ``tests/support/fault_injection/sitecustomize.py``), the run directory's creation (in
  process), and for real on a small tmpfs where the system lets an unprivileged user mount
  one (``unshare -rm``; skipped elsewhere). Each ends with one line naming the file, exit 2,
  the run marked failed with that cause and nothing half-written.
* **A stop while the data loads** ends the run at once as stopped.
* **A symbolic link** at a run file is not written through; **file modes** follow the umask;
  **events.jsonl** is strict JSON (no bare NaN) and reads NaN back.

The rest of the fault set lives beside the code it covers: damaged event lines of every
JSON type (tests/unit/test_runs.py, ``DAMAGED``), a stale or reused pid never signalled
(tests/functional/test_jobs.py), a SIGKILLed worker listed with its last step and cause
without anyone attaching (tests/functional/test_faults.py and tests/unit/test_runs.py).
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support import BAD_INPUTS, REPO_ROOT, SUPPORT
from support.waiting import wait_until

import tuirecipe.fileio as fileio
from tuirecipe.config import config_from_dict
from tuirecipe.errors import RunError, StorageError
from tuirecipe.events import EvalMetrics, Log, StepMetrics, from_dict
from tuirecipe.runs import RunDir, list_runs
from tuirecipe.runs.jobs import JobClient, Signalled
from tuirecipe.runs.launch import prepare_run
from tuirecipe.runs.rundir import EventWriter, atomic_write_text, create_run_dir

HOOKS = SUPPORT / "fault_injection"
QUICK = ["--set", "model.name=fasttext", "--set", "train.batch_size=8", "-q"]
NO_SPACE = "cannot write: no space left on device (the disk is full)"


def tuirecipe(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 150, umask=None
) -> subprocess.CompletedProcess:
    hooks = f"{HOOKS}{os.pathsep}" if env else ""
    full_env = {**os.environ, "PYTHONPATH": f"{hooks}{REPO_ROOT}", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def workspace(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    shutil.copy(BAD_INPUTS / "good.csv", folder / "good.csv")
    return folder


def strict_lines(path: Path) -> list[dict]:
    """Every line of ``path`` as strict JSON: a bare NaN/Infinity or half a line fails."""

    def refuse(constant: str) -> object:
        raise AssertionError(f"bare {constant} in {path}")

    text = path.read_text(encoding="utf-8")
    assert not text or text.endswith("\n"), "half a line at the end"
    return [json.loads(line, parse_constant=refuse) for line in text.splitlines()]


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [l for l in result.stderr.splitlines() if l.startswith("tuirecipe: error: ")]


# -- disk full, injected in the worker at each write point ------------------------------

# (the run file whose n-th write finds the disk full, n, what the run had done by then)
WRITE_POINTS = [
    ("events.jsonl", 8, "mid-run: an event append"),
    ("status.json", 2, "at start: the 'running' status"),
    ("vocab.json", 1, "before training: the vocabulary"),
    ("model.pt", 1, "at the end: the checkpoint"),
]


@pytest.fixture(scope="module")
def full_disk_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    root = tmp_path_factory.mktemp("disk_full")

    def one(point: tuple[str, int, str]) -> tuple[str, tuple]:
        name, nth, _ = point
        folder = workspace(root, name.replace(".", "_"))
        env = {"TUIRECIPE_TEST_DISK_FULL": f"{name}:{nth}"}
        result = tuirecipe(
            "train", "--set", "data.path=good.csv", "--set", "train.epochs=2", *QUICK,
            cwd=folder, env=env,
        )  # fmt: skip
        listed = tuirecipe("runs", "--json", cwd=folder, timeout=60)
        (run,) = list_runs(folder / "runs")
        return name, (result, RunDir(Path(run.path)), json.loads(listed.stdout))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, WRITE_POINTS))


@pytest.mark.parametrize("name", [p[0] for p in WRITE_POINTS], ids=[p[2] for p in WRITE_POINTS])
def test_a_full_disk_fails_the_run_naming_the_file(name: str, full_disk_runs: dict) -> None:
    result, run, listed = full_disk_runs[name]
    detail = f"exit {result.returncode}\n{result.stderr}"
    assert result.returncode == 2 and "Traceback" not in result.stderr, detail
    (line,) = error_lines(result)
    assert line == f"tuirecipe: error: {run.path / name}: {NO_SPACE}", detail

    status = run.read_status()
    assert status["state"] == "failed" and status["message"] == line.split("error: ", 1)[1]
    events = strict_lines(run.events_path)  # nothing half-written, strict JSON
    assert [e["message"] for e in events if e["type"] == "error"] == [status["message"]]
    assert events[-1]["type"] == "status" and events[-1]["state"] == "failed"
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert steps == list(range(1, len(steps) + 1))
    # no temporary files, no checkpoint that is half a file, the space reserve let go
    leftovers = sorted(p.name for p in run.path.iterdir() if p.name.startswith("."))
    assert leftovers == []
    if name == "model.pt":
        assert steps and not (run.path / "model.pt").exists()
    (row,) = listed  # `tuirecipe runs` shows the cause
    assert row["state"] == "failed" and NO_SPACE in row["message"]


def test_a_full_disk_mid_run_keeps_every_recorded_step(full_disk_runs: dict) -> None:
    """The append that found the disk full came after some steps; they are all there."""
    result, run, _ = full_disk_runs["events.jsonl"]
    steps = [e.step for e in run.events() if e.kind == "step"]
    assert steps and run.read_status()["step"] == steps[-1]


# -- disk full at the write points, in process ------------------------------------------


def full_after_half(real_write):
    """A stand-in for ``os.write`` that writes half the bytes, then finds the disk full."""

    def write(fd: int, data) -> int:
        if len(data) > 1:
            real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write


def test_an_append_that_finds_the_disk_full_leaves_no_half_line(tmp_path, monkeypatch) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path)
    writer.write(Log(message="before"))
    before = path.read_bytes()
    monkeypatch.setattr(fileio.os, "write", full_after_half(os.write))
    with pytest.raises(StorageError) as caught:
        writer.write(Log(message="x" * 500))
    assert str(caught.value) == f"{path}: {NO_SPACE}" and caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == before  # cut back to the last whole line
    monkeypatch.undo()
    writer.write(Log(message="after"))  # room again: the writer goes on
    writer.close()
    assert [e["message"] for e in strict_lines(path)] == ["before", "after"]


def test_an_atomic_write_that_finds_the_disk_full_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    atomic_write_text(path, "old\n")
    monkeypatch.setattr(fileio.os, "fsync", lambda fd: full_after_half(os.write)(fd, b""))
    with pytest.raises(StorageError) as caught:
        atomic_write_text(path, "new " * 1000)
    assert str(caught.value) == f"{path}: {NO_SPACE}"
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]  # no temp file


def config_in(folder: Path):
    shutil.copy(BAD_INPUTS / "good.csv", folder / "good.csv")
    return config_from_dict(
        {"data": {"path": "good.csv"}, "model": {"name": "fasttext"}},
        source=str(folder / "exp.toml"),
        base_dir=str(folder),
    )


@pytest.mark.parametrize("failing", ["config.toml", "meta.json", "status.json"])
def test_a_run_started_on_a_full_disk_leaves_no_run_directory(tmp_path, monkeypatch, failing):
    """The choice (README, bad inputs): a run directory is complete or absent, so a
    start that cannot write it removes what it made and says which file failed."""
    config = config_in(tmp_path)
    real = fileio.atomic_write

    def atomic_write(path, fill):
        if Path(path).name == failing:
            raise fileio.storage_error(OSError(errno.ENOSPC, "No space left on device"), path)
        return real(path, fill)

    monkeypatch.setattr(fileio, "atomic_write", atomic_write)
    with pytest.raises(StorageError) as caught:
        prepare_run(config, "train")
    assert str(caught.value).endswith(f"/{failing}: {NO_SPACE}; the run was not started")
    assert list((tmp_path / "runs").iterdir()) == []


def test_no_room_for_a_run_directory_is_one_line_naming_the_runs_dir(tmp_path, monkeypatch):
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.parent.name == "runs":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(RunError) as caught:
        create_run_dir(tmp_path / "runs", "x")
    assert str(caught.value) == (
        f"{tmp_path / 'runs'}: key 'runs_dir': cannot create a run directory: "
        "No space left on device"
    )


def test_a_reader_on_a_full_disk_does_not_crash(tmp_path, monkeypatch) -> None:
    """A reader that finds the worker dead cannot record it (no room for gone.json): it
    says so by returning False; the run still shows failed, its worker being gone."""
    run = create_run_dir(tmp_path, "x")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run.write_status(state="running", pid=proc.pid, step=3)
    real_open = os.open

    def open_on_a_full_disk(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_on_a_full_disk)
    assert run.mark_dead_if_stale() is False
    monkeypatch.undo()
    assert run.state() == "failed" and not run.gone_path.exists()
    assert run.mark_dead_if_stale() is True  # room again: recorded then


# -- disk full for real: a small tmpfs ----------------------------------------------------


def small_tmpfs_script(size: str, body: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``body`` (sh) with ``$MNT`` a fresh tmpfs of ``size``, in a private mount
    namespace (no root needed where user namespaces are allowed). Skips when they are not."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = f'mount -t tmpfs -o size={size} tmpfs "$MNT" || exit 97\n{body}'
    env = {**os.environ, "MNT": str(mnt), "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200"}
    env["PY"] = sys.executable
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) to mount a small file system")
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    if result.returncode == 97 or "unshare:" in result.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()[:200]}")
    return result


def sections(stdout: str) -> dict[str, str]:
    out, name = {}, ""
    for line in stdout.splitlines():
        if line.startswith("=== "):
            name = line[4:]
            out[name] = ""
        else:
            out[name] = out.get(name, "") + line + "\n"
    return out


def test_a_run_started_on_a_really_full_disk(tmp_path: Path) -> None:
    shutil.copy(BAD_INPUTS / "good.csv", tmp_path / "good.csv")
    body = """
head -c 1000000 /dev/zero > "$MNT/filler" 2>/dev/null
$PY -m tuirecipe train --set data.path=good.csv --set runs_dir="$MNT/runs" \
    --set model.name=fasttext -q 2>err
rc=$?
echo "=== rc"; echo $rc
echo "=== err"; cat err
echo "=== left"; ls -A "$MNT/runs"
"""
    result = small_tmpfs_script("64k", body, tmp_path)
    out = sections(result.stdout)
    assert out["rc"].strip() == "2", result
    lines = [l for l in out["err"].splitlines() if l.startswith("tuirecipe: error: ")]
    assert len(lines) == 1 and "Traceback" not in out["err"], out["err"]
    assert lines[0].startswith(f"tuirecipe: error: {tmp_path}/mnt/runs")
    assert lines[0].endswith(f"/config.toml: {NO_SPACE}; the run was not started"), lines[0]
    assert out["left"].strip() == "", "a half-made run directory was left"


def test_a_disk_that_fills_up_mid_run_for_real(tmp_path: Path) -> None:
    """1 MB of room: the run starts, trains, and its 1 MB checkpoint does not fit."""
    shutil.copy(BAD_INPUTS / "good.csv", tmp_path / "good.csv")
    body = """
$PY -m tuirecipe train --set data.path=good.csv --set runs_dir="$MNT/runs" \
    --set model.name=fasttext --set model.embed_dim=4000 --set train.max_steps=3 -q 2>err
rc=$?
echo "=== rc"; echo $rc
echo "=== err"; cat err
echo "=== runs"; $PY -m tuirecipe runs --runs-dir "$MNT/runs" --json
echo "=== files"; ls -A "$MNT"/runs/*/
echo "=== events"; cat "$MNT"/runs/*/events.jsonl
"""
    result = small_tmpfs_script("1m", body, tmp_path)
    out = sections(result.stdout)
    assert out["rc"].strip() == "2", result
    (line,) = [l for l in out["err"].splitlines() if l.startswith("tuirecipe: error: ")]
    # the first checkpoint written (best.pt at the evaluation, else last.pt/model.pt)
    (name,) = [n for n in ("best.pt", "last.pt", "model.pt") if line.endswith(f"/{n}: {NO_SPACE}")]
    assert "Traceback" not in out["err"]
    (row,) = json.loads(out["runs"])
    assert row["state"] == "failed" and row["message"].endswith(f"/{name}: {NO_SPACE}")
    assert name not in out["files"].split() and ".space-reserve" not in out["files"]
    events = [json.loads(l, parse_constant=float) for l in out["events"].splitlines()]
    assert events[-1]["type"] == "status" and events[-1]["state"] == "failed"
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert steps and steps == list(range(1, len(steps) + 1))  # whole lines, none lost between


# -- a stop while the data loads -----------------------------------------------------------


def test_a_stop_while_the_data_loads_ends_the_run_at_once(tmp_path: Path) -> None:
    """Loading blocks (the planted hook waits forever, as a huge file would take long):
    only a stop honoured during loading ends the worker."""
    folder = workspace(tmp_path, "slow")
    marker = tmp_path / "loading"
    result = tuirecipe(
        "train", "--set", "data.path=good.csv", *QUICK[:-1], "--detach",
        cwd=folder, env={"TUIRECIPE_TEST_BLOCK_LOAD": str(marker)}, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = RunDir(folder / "runs" / result.stdout.strip())
    wait_until(marker.exists, 120, "the worker to start loading the data")
    jobs = JobClient()
    assert jobs.control(run, "stop") is Signalled.SENT  # the verified worker, as the console
    pid = run.read_status()["pid"]
    wait_until(lambda: run.read_status().get("state") == "stopped", 60, "the run to stop")
    status = run.read_status()
    assert status["message"] == "stopped on request while loading data"
    assert not [e for e in run.events() if e.kind == "step"]
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), 30, "the worker to end")
    (row,) = json.loads(tuirecipe("runs", "--json", cwd=folder, timeout=60).stdout)
    assert row["state"] == "stopped" and row["message"] == status["message"]


def test_a_stop_while_a_check_job_loads_its_data_ends_it_at_once(
    tmp_path: Path, monkeypatch
) -> None:
    """The check job prepares the data before its first check: a stop during that ends
    the job at once as stopped, as a training run's does."""
    from tuirecipe.config import load_config

    folder = workspace(tmp_path, "slow-checks")
    marker = tmp_path / "loading"
    monkeypatch.setenv("PYTHONPATH", f"{HOOKS}{os.pathsep}{REPO_ROOT}")
    monkeypatch.setenv("TUIRECIPE_TEST_BLOCK_LOAD", str(marker))
    monkeypatch.chdir(folder)
    config = load_config(None, ["data.path=good.csv", f"runs_dir={folder / 'runs'}"])
    jobs = JobClient()
    job = jobs.start(config, "check")
    assert job.run is not None
    run = job.run
    wait_until(marker.exists, 120, "the check job to start loading the data")
    assert jobs.control(run, "stop") is Signalled.SENT
    wait_until(lambda: run.read_status().get("state") == "stopped", 60, "the job to stop")
    assert run.read_status()["message"] == "stopped on request while loading data"
    assert not [e for e in run.events() if e.kind == "check_started"]
    jobs.wait(job, timeout=30)


def _zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# -- a SIGKILLed worker, listed without anyone attaching ----------------------------------


def test_a_killed_worker_is_listed_with_its_last_step_and_cause(tmp_path: Path) -> None:
    """Nobody follows the run: ``tuirecipe runs`` alone sees the worker gone, records why
    once, and shows the last step the events hold (status.json said step 0)."""
    folder = workspace(tmp_path, "killed")
    result = tuirecipe(
        "train", "--set", "data.path=good.csv", "--set", "train.epochs=100000",
        *QUICK[:-1], "--detach",
        cwd=folder, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = RunDir(folder / "runs" / result.stdout.strip())

    def steps() -> list[int]:
        return [e.step for e in run.events() if e.kind == "step"]

    wait_until(lambda: len(steps()) >= 3, 120, "the worker to record three steps")
    pid = run.read_status()["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), 30, "the worker to die")
    recorded = steps()[-1]
    assert run.read_status()["state"] == "running" and run.read_status()["step"] == 0

    listed = tuirecipe("runs", "--json", cwd=folder, timeout=60)
    (row,) = json.loads(listed.stdout)
    assert row["state"] == "failed" and row["last_step"] == recorded
    assert f"worker process {pid} is gone without finishing" in row["message"]
    table = tuirecipe("runs", cwd=folder, timeout=60)
    line = next(l for l in table.stdout.splitlines() if l.startswith(run.id[:15]))
    assert "failed" in line and f" {recorded} " in line and "worker process" in line
    assert [e["type"] for e in strict_lines(run.events_path)][-2:] == ["error", "status"]


# -- symbolic links, file modes, strict JSON ----------------------------------------------


def test_an_events_file_that_is_a_symbolic_link_is_not_written_through(tmp_path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    run = create_run_dir(tmp_path / "runs", "x")
    run.events_path.symlink_to(target)
    with pytest.raises(StorageError) as caught:
        EventWriter(run.events_path)
    assert str(caught.value) == (
        f"{run.events_path}: is a symbolic link; tuirecipe does not write run files through links"
    )
    # a reader that finds the worker dead records it without writing through the link
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run.write_status(state="running", pid=proc.pid, step=2)
    listed = tuirecipe("runs", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path, timeout=60)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert "failed" in listed.stdout
    assert target.read_text() == "precious\n"


def test_a_worker_whose_events_file_is_a_link_fails_naming_it(tmp_path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    run = prepare_run(config_in(tmp_path), "train")
    run.events_path.unlink()
    run.events_path.symlink_to(target)
    jobs = JobClient()
    job = jobs.start_worker(run)
    assert job.proc.wait(timeout=120) == 2
    status = run.read_status()
    assert status["state"] == "failed"
    assert status["message"] == (
        f"{run.events_path}: is a symbolic link; tuirecipe does not write run files through links"
    )
    assert target.read_text() == "precious\n"


def test_the_space_reserve_is_never_written_through_a_link(tmp_path) -> None:
    from tuirecipe.worker import SPACE_RESERVE_BYTES, release_space, reserve_space

    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    run = create_run_dir(tmp_path / "runs", "x")
    run.space_reserve_path.symlink_to(target)
    reserve_space(run)
    assert target.read_text() == "precious\n" and not run.space_reserve_path.is_symlink()
    assert run.space_reserve_path.stat().st_size == SPACE_RESERVE_BYTES
    release_space(run)
    assert not run.space_reserve_path.exists()


def test_a_worker_log_that_is_a_link_is_refused_before_the_worker_starts(tmp_path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    run = prepare_run(config_in(tmp_path), "train")
    run.log_path.symlink_to(target)
    started = []
    with pytest.raises(StorageError, match="worker.log: is a symbolic link"):
        JobClient(spawn=lambda *a, **k: started.append(a)).start_worker(run)
    assert started == [] and target.read_text() == "precious\n"
    status = run.read_status()
    assert status["state"] == "failed" and "is a symbolic link" in status["message"]


@pytest.mark.parametrize("umask", [0o027, 0o002])
def test_run_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    folder = workspace(tmp_path, f"umask{umask:o}")
    result = tuirecipe(
        "train", "--set", "data.path=good.csv", "--set", "train.max_steps=2", *QUICK,
        cwd=folder, umask=umask,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = (folder / "runs").iterdir()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in run.iterdir()}
    assert {"config.toml", "status.json", "events.jsonl", "model.pt", "meta.json"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o666 & ~umask), modes
    assert stat.S_IMODE(run.stat().st_mode) == 0o777 & ~umask


def test_non_finite_numbers_are_written_as_strict_json_and_read_back() -> None:
    events = [
        StepMetrics(step=1, epoch=0.5, loss=math.nan, lr=math.inf, acc=None),
        EvalMetrics(
            step=1,
            epoch=0.5,
            split="dev",
            metrics={"loss": -math.inf, "a/b~c": math.nan, "acc": 0.5},
            ci={"loss": [math.nan, 1.0]},
        ),  # fmt: skip
    ]
    for event in events:
        line = event.to_json()
        data = json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c}"))
        back = from_dict(data)
        assert type(back) is type(event)
    step, ev = (from_dict(json.loads(e.to_json())) for e in events)
    assert math.isnan(step.loss) and step.lr == math.inf and step.acc is None
    assert ev.metrics["loss"] == -math.inf and math.isnan(ev.metrics["a/b~c"])
    assert ev.metrics["acc"] == 0.5 and math.isnan(ev.ci["loss"][0]) and ev.ci["loss"][1] == 1.0
    # finite events carry no map; a damaged map is ignored, not a crash
    assert "nonfinite" not in StepMetrics(step=1, epoch=0, loss=1.0, lr=0.1).to_json()
    damaged = json.loads(events[0].to_json())
    damaged["nonfinite"] = {"/nowhere/3": "NaN", "/step": "Infinity", "bad": 7}
    back = from_dict(damaged)
    assert back.step == 1 and back.loss is None


def test_the_events_of_a_run_that_diverged_are_strict_json(tmp_path: Path) -> None:
    folder = workspace(tmp_path, "diverged")
    result = tuirecipe(
        "train", "--set", "data.path=good.csv", "--set", "train.lr=1e30",
        "--set", "train.epochs=3", *QUICK,
        cwd=folder,
    )  # fmt: skip
    (run,) = list_runs(folder / "runs")
    events = strict_lines(Path(run.path) / "events.jsonl")
    assert any("nonfinite" in e for e in events), "the run was meant to diverge"
    assert result.returncode == 2 and "loss became" in result.stderr, result.stderr
    losses = [e.loss for e in RunDir(Path(run.path)).events() if e.kind == "step"]
    assert not math.isfinite(losses[-1])
    table = tuirecipe("runs", cwd=folder, timeout=60)
    assert table.returncode == 0 and "failed" in table.stdout


def test_runs_lists_a_run_whose_dev_loss_is_nan_as_strict_json(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path / "runs", "x")
    run.write_status(state="failed", step=2, message="loss became nan at step 2")
    writer = EventWriter(run.events_path)
    writer.write(EvalMetrics(step=2, epoch=1.0, split="dev", metrics={"loss": math.nan}))
    writer.close()
    listed = tuirecipe("runs", "--runs-dir", str(tmp_path / "runs"), "--json", cwd=tmp_path)
    (row,) = json.loads(listed.stdout, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert row["best"] == {"loss": None}
    table = tuirecipe("runs", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert "loss nan" in table.stdout and "Traceback" not in table.stderr


def test_marker_words_are_not_mistaken_for_numbers() -> None:
    """A log line or a row that says NaN stays text."""
    back = from_dict(json.loads(Log(message="NaN").to_json()))
    assert back.message == "NaN"
