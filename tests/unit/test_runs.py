"""Run directories: atomic files, tolerant event reading, listing, ids that cannot escape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuirecipe.errors import RunError
from tuirecipe.events import EvalMetrics, Log, RunStatus, StepMetrics, from_json
from tuirecipe.runs import (
    EventWriter,
    Follower,
    RunDir,
    atomic_write_text,
    create_run_dir,
    list_runs,
    open_run_dir,
    read_events,
)


def test_event_json_round_trip() -> None:
    event = StepMetrics(step=3, epoch=0.5, loss=1.25, lr=3e-4, acc=0.5, examples=96)
    again = from_json(event.to_json())
    assert again == event
    data = json.loads(event.to_json())
    assert data["type"] == "step" and data["loss"] == 1.25 and "t" in data


def test_unknown_event_type_is_kept_not_dropped() -> None:
    event = from_json('{"t": 1.0, "type": "from_the_future", "x": 1}')
    assert event.kind == "unknown" and event.data["x"] == 1


def test_reader_tolerates_a_half_written_last_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path)
    writer.write(Log(message="one"))
    writer.close()
    whole = path.read_bytes()
    partial = Log(message="two").to_json().encode()
    path.write_bytes(whole + partial[:10])
    events, offset = read_events(path)
    assert [e.message for e in events] == ["one"]
    assert offset == len(whole)
    path.write_bytes(whole + partial + b"\n")
    events, offset = read_events(path, offset)
    assert [e.message for e in events] == ["two"]
    assert offset == path.stat().st_size


def test_a_corrupt_middle_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(Log(message="a").to_json() + "\n{garbage\n" + Log(message="b").to_json() + "\n")
    assert [e.message for e in read_events(path)[0]] == ["a", "b"]


DAMAGED = ["570", "null", "[1, 2]", '"text"', "true", '{"t": [1], "type": "log"}']


@pytest.mark.parametrize("line", DAMAGED)
def test_a_line_that_is_valid_json_but_no_event_is_skipped(tmp_path: Path, line: str) -> None:
    """A damaged line of any JSON type is skipped like a corrupt one, and the run is still
    listed (it crashed ``runs``, ``attach`` and the console's start for the whole folder)."""
    run = create_run_dir(tmp_path, "x")
    run.update_meta(name="x", created=100.0)
    writer = EventWriter(run.events_path)
    writer.write(EvalMetrics(step=10, epoch=1.0, split="dev", metrics={"loss": 0.9}))
    writer.close()
    with open(run.events_path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n" + Log(message="after").to_json() + "\n")
    events = read_events(run.events_path)[0]
    assert [type(e).__name__ for e in events] == ["EvalMetrics", "Log"]
    run.write_status(state="finished", started=100.0, ended=160.0, step=10)
    (summary,) = list_runs(tmp_path)
    assert summary.best == {"loss": 0.9}
    with pytest.raises(ValueError):
        from_json(line)


def test_follower_sees_only_new_events(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path, "x")
    follower = Follower(run)
    assert follower.poll() == []
    writer = EventWriter(run.events_path)
    writer.write(RunStatus(state="running"))
    assert [e.kind for e in follower.poll()] == ["status"]
    assert follower.poll() == []
    writer.write(StepMetrics(step=1, epoch=0.0, loss=1.0, lr=0.1))
    writer.close()
    assert [e.kind for e in follower.poll()] == ["step"]


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md"]


def test_run_ids_are_unique_and_cannot_escape(tmp_path: Path) -> None:
    a = create_run_dir(tmp_path, "demo")
    b = create_run_dir(tmp_path, "demo")
    assert a.path != b.path and a.path.parent == tmp_path == b.path.parent
    for bad in ("../x", "a/b", "..", ""):
        with pytest.raises(RunError):
            create_run_dir(tmp_path, bad)
    with pytest.raises(RunError):
        open_run_dir(tmp_path, "../etc")


def test_open_run_by_unique_part(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path, "alpha")
    run.write_status(state="finished")
    assert open_run_dir(tmp_path, "alpha").path == run.path
    with pytest.raises(RunError, match="no run"):
        open_run_dir(tmp_path, "beta")


def test_unwritable_runs_dir_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = tmp_path / "file-not-dir"
        target.write_text("x")
        with pytest.raises(RunError, match="runs_dir"):
            create_run_dir(target / "runs", "x")
        return
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(RunError, match="not writable"):
        create_run_dir(locked, "x")


def test_dead_worker_is_seen_and_recorded(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path, "x")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run.write_status(state="running", pid=proc.pid, step=12)
    assert run.state() == "failed"
    assert run.mark_dead_if_stale()
    assert run.read_status()["state"] == "failed"
    kinds = [e.kind for e in run.events()]
    assert kinds == ["error", "status"]
    assert not run.mark_dead_if_stale()  # only once


def test_a_rank_that_failed_before_rank_0_could_say_so_is_the_recorded_reason(
    tmp_path: Path,
) -> None:
    # torchrun stopped rank 0 before it wrote anything: the failed rank's own words (and
    # whether the user can fix it) are the run's end, not "gone without finishing".
    run = create_run_dir(tmp_path, "x")
    run.write_status(state="created", ranks=2, pid=None)
    run.write_rank_failure(1, 2, "key 'train.gpus': no CUDA here", user_error=True)
    assert run.mark_dead_if_stale(2, exited=True)
    status = run.read_status()
    assert status["state"] == "failed" and status["user_error"] is True
    assert status["message"] == "rank 1 of 2 failed: key 'train.gpus': no CUDA here"
    errors = [e for e in run.events() if e.kind == "error"]
    assert len(errors) == 1 and errors[0].user_error


def test_a_multi_process_run_gone_without_a_rank_report_says_so(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path, "x")
    run.write_status(state="created", ranks=2, pid=None)
    assert run.mark_dead_if_stale(-9, exited=True)
    status = run.read_status()
    assert "training processes" in status["message"] and not status.get("user_error")


def test_a_killed_worker_is_listed_with_its_last_step_and_cause(tmp_path: Path) -> None:
    """Nobody attached: the listing itself sees the worker gone, names why, and shows the
    last step the worker recorded (its status said step 0: only state changes write it)."""
    run = create_run_dir(tmp_path, "x")
    writer = EventWriter(run.events_path)
    for step in (10, 20, 40):
        writer.write(StepMetrics(step=step, epoch=0.1, loss=1.0, lr=0.1))
    writer.close()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run.write_status(state="running", pid=proc.pid, step=0)
    (summary,) = list_runs(tmp_path)
    assert summary.state == "failed" and summary.last_step == 40
    assert "gone without finishing" in summary.message


def test_list_runs_summarises_best_dev_and_notes(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path, "x")
    run.update_meta(name="x", created=100.0)
    writer = EventWriter(run.events_path)
    writer.write(EvalMetrics(step=10, epoch=1.0, split="dev", metrics={"loss": 0.9, "acc": 0.6}))
    writer.write(EvalMetrics(step=20, epoch=2.0, split="dev", metrics={"loss": 0.5, "acc": 0.8}))
    writer.write(EvalMetrics(step=30, epoch=3.0, split="dev", metrics={"loss": 0.7, "acc": 0.7}))
    writer.close()
    run.write_status(state="finished", started=100.0, ended=160.0, step=30)
    run.write_notes("# Trying a smaller lr\nmore text\n")
    (summary,) = list_runs(tmp_path)
    assert summary.best == {"loss": 0.5, "acc": 0.8}
    assert summary.state == "finished" and summary.duration == pytest.approx(60.0)
    assert summary.notes_first_line == "Trying a smaller lr"
    assert list_runs(tmp_path / "missing") == []


def test_rundir_paths() -> None:
    run = RunDir(Path("/tmp/r/abc"))
    assert run.id == "abc" and run.events_path.name == "events.jsonl"


def test_a_dead_workers_end_is_named_when_known():
    from tuirecipe.runs.rundir import how_a_worker_ended

    assert how_a_worker_ended(-9) == (
        "ended by SIGKILL: killed: by a person, or by the kernel when memory ran out"
    )
    assert how_a_worker_ended(-11) == "ended by SIGSEGV: crashed in native code"
    assert how_a_worker_ended(-6) == "ended by SIGABRT: aborted in native code"
    assert how_a_worker_ended(-10) == "ended by SIGUSR1"
    assert how_a_worker_ended(3) == "exit status 3"
    assert how_a_worker_ended(None) == "killed, or crashed in native code"  # not our child


def test_run_json_files_are_strict_json_with_null_for_nan(tmp_path) -> None:
    """status.json, meta.json and a tuning summary.json never hold a bare NaN."""
    import json as _json
    import math as _math

    from tuirecipe.runs.rundir import atomic_write_json
    from tuirecipe.tune.records import finish_parent_run

    path = tmp_path / "meta.json"
    atomic_write_json(path, {"value": _math.nan, "nested": [1.0, _math.inf]})

    def refuse(word: str) -> object:
        raise AssertionError(f"bare {word}")

    assert _json.loads(path.read_text(), parse_constant=refuse) == {
        "nested": [1.0, None],
        "value": None,
    }
    run = RunDir(tmp_path / "parent")
    run.path.mkdir()
    finish_parent_run(run, {"results": [{"best": {"loss": _math.nan}}]})
    summary = _json.loads((run.path / "summary.json").read_text(), parse_constant=refuse)
    assert summary["results"][0]["best"]["loss"] is None


def test_kept_sentence_names_the_file_the_step_and_why(tmp_path: Path) -> None:
    from support.recorded_run import write_recorded_run

    from tuirecipe.runs.listing import kept_dev_eval, kept_sentence

    run = write_recorded_run(tmp_path, "r")  # dev evaluations every 50 steps, to 200
    assert kept_sentence(kept_dev_eval(run)) == ""  # no checkpoint named: nothing to claim
    run.update_meta(checkpoint={"file": "last.pt", "step": 200, "monitor": "dev.loss"})
    said = kept_sentence(kept_dev_eval(run))
    assert said.startswith("kept last @ step 200 (last.pt) as model.pt (train.keep): loss ")
    run.update_meta(checkpoint={"file": "best.pt", "step": 100, "monitor": "dev.loss"})
    said = kept_sentence(kept_dev_eval(run))
    assert said.startswith("kept best @ step 100 (best.pt) as model.pt (lowest dev loss): ")
    assert " acc " in said


def test_the_listing_reads_on_from_where_it_stopped_and_agrees_with_a_fresh_read(
    tmp_path: Path,
) -> None:
    # The Runs pane lists every run every few seconds: a run's events are read once and
    # then from where the last reading stopped. What it shows must equal a fresh reading
    # at every point: as the file grows, through a resume, and after the file is replaced.
    from tuirecipe.events import Resumed
    from tuirecipe.runs import listing

    run = create_run_dir(tmp_path, "x")
    run.write_status(state="running", pid=os.getpid(), step=0)

    def step(s: int, loss: float) -> StepMetrics:
        return StepMetrics(step=s, epoch=s / 10, loss=loss, lr=0.1, examples=8 * s, tokens=90 * s)

    def dev(s: int, loss: float) -> EvalMetrics:
        return EvalMetrics(step=s, epoch=s / 10, split="dev", metrics={"loss": loss, "acc": 0.5})

    def agrees() -> tuple:
        cached = listing._from_events(run)
        listing._DIGESTS.clear()
        fresh = listing._from_events(run)
        assert cached == fresh
        return fresh

    writer = EventWriter(run.events_path)
    pieces = [
        [step(1, 2.0), step(2, 1.5), dev(2, 1.4)],
        [step(3, 1.2), step(4, 1.0), dev(4, 0.9)],
        [step(5, 0.8), step(6, 0.7), dev(6, 1.1)],
        # resumed from step 4's checkpoint: steps 5-6 and the eval at 6 are superseded
        [Resumed(step=4), step(5, 0.95), dev(5, 0.5)],
        [step(6, 0.9)],
    ]
    seen = []
    for piece in pieces:
        writer.write_many(piece)
        kept, last_step, last = agrees()
        seen.append((kept.step, last_step, last.loss))
        agrees()  # unchanged file: the cached reading again
    assert seen == [(2, 2, 1.5), (4, 4, 1.0), (4, 6, 0.7), (5, 5, 0.95), (5, 6, 0.9)]
    writer.close()

    # A replaced file (another inode, shorter): read from its start
    replacement = run.path / "events.new"
    fresh_writer = EventWriter(replacement)
    fresh_writer.write_many([step(1, 3.0), dev(1, 2.5)])
    fresh_writer.close()
    os.replace(replacement, run.events_path)
    kept, last_step, last = agrees()
    assert (kept.step, last_step, last.loss) == (1, 1, 3.0)
