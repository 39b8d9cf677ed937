"""The checklist's memory: manual ticks and the human baseline in ``checklist.json``, and
the newest automatic result of each check read back from the check runs."""

from __future__ import annotations

import json
import os

import pytest

from tuirecipe.checks import store
from tuirecipe.checks.human import score_human
from tuirecipe.checks.store import ChecklistStore, latest_results
from tuirecipe.events import CheckResult, StepMetrics
from tuirecipe.runs import EventWriter, create_run_dir


def test_ticks_round_trip_and_survive_reopening(tmp_path):
    runs = tmp_path / "runs"  # does not exist yet: the first tick creates it
    first = ChecklistStore(runs)
    assert first.ticks() == {} and first.human_baseline() is None
    entry = first.tick("looked_at_data", "read 200 rows; many duplicates")
    assert entry["note"] == "read 200 rows; many duplicates" and entry["time"] > 0
    first.tick("input_view", "")
    again = ChecklistStore(runs)
    assert set(again.ticks()) == {"looked_at_data", "input_view"}
    assert again.ticks()["looked_at_data"]["note"] == "read 200 rows; many duplicates"
    assert again.is_ticked("input_view")
    assert again.untick("input_view") is True
    assert again.untick("input_view") is False
    assert set(ChecklistStore(runs).ticks()) == {"looked_at_data"}
    on_disk = json.loads((runs / "checklist.json").read_text())
    assert on_disk["ticks"]["looked_at_data"]["note"].startswith("read 200")
    # module-level helpers work on the same file
    store.tick(runs, "understood_labels", "7 classes; billing vs account overlap")
    assert store.untick(runs, "looked_at_data")
    assert set(ChecklistStore(runs).ticks()) == {"understood_labels"}


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path, monkeypatch):
    s = ChecklistStore(tmp_path)
    s.tick("looked_at_data", "first")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        s.tick("looked_at_data", "second")
    monkeypatch.undo()
    assert ChecklistStore(tmp_path).ticks()["looked_at_data"]["note"] == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checklist.json"]


def test_a_corrupt_file_reads_as_empty(tmp_path):
    (tmp_path / "checklist.json").write_text("{not json")
    s = ChecklistStore(tmp_path)
    assert s.ticks() == {}
    s.tick("looked_at_data", "ok")
    assert set(ChecklistStore(tmp_path).ticks()) == {"looked_at_data"}


def test_human_baseline_is_saved_next_to_the_ticks(tmp_path):
    s = ChecklistStore(tmp_path)
    s.tick("looked_at_data", "note")
    result = score_human({0: "a", 1: "b", 2: None}, ["a", "a", "b"])
    saved = s.save_human_baseline({**result, "examples": 3})
    assert saved["time"] > 0
    back = ChecklistStore(tmp_path).human_baseline()
    assert back["accuracy"] == 0.5 and back["n"] == 2 and back["skipped"] == 1
    assert back["ci"] == pytest.approx(result["ci"])
    assert set(ChecklistStore(tmp_path).ticks()) == {"looked_at_data"}
    s.clear_human_baseline()
    assert ChecklistStore(tmp_path).human_baseline() is None


def _run(runs_dir, name, job, started, results):
    run = create_run_dir(runs_dir, name)
    run.update_meta(id=run.id, name=name, job=job, created=started)
    run.write_status(state="finished", job=job, started=started)
    writer = EventWriter(run.events_path)
    try:
        for check, status, t in results:
            writer.write(
                CheckResult(
                    name=check, status=status, summary=f"{check} {status}", numbers={"x": 1}, t=t
                )
            )
        writer.write(StepMetrics(step=1, epoch=0.1, loss=1.0, lr=0.1, t=started))
    finally:
        writer.close()
    return run


def test_latest_results_takes_the_newest_result_of_each_check(tmp_path):
    old = _run(
        tmp_path, "a", "check", 100.0, [("init_loss", "fail", 101.0), ("lr_range", "pass", 102.0)]
    )
    new = _run(tmp_path, "b", "check", 200.0, [("init_loss", "pass", 201.0)])
    # a training run's results never count, however new
    _run(tmp_path, "c", "train", 300.0, [("init_loss", "error", 301.0)])
    got = latest_results(tmp_path)
    assert set(got) == {"init_loss", "lr_range"}
    assert got["init_loss"]["status"] == "pass" and got["init_loss"]["run_id"] == new.id
    assert got["init_loss"]["time"] == 201.0
    assert got["lr_range"]["run_id"] == old.id and got["lr_range"]["summary"] == "lr_range pass"
    assert got["lr_range"]["numbers"] == {"x": 1}
    assert latest_results(tmp_path / "missing") == {}
