"""Verdicts belong to what they checked (issue 11, point 4).

Real ``check`` jobs (the worker's job body, run in this process) record their results in a
runs directory; the checklist view of another config shows every one of them stale, with
the reason, and current again once the config is back.
"""

from __future__ import annotations

import time
from pathlib import Path

from support.check_jobs import FAST_CHECKS, check_job, config, write_csv  # noqa: F401

from tuirecipe.checks.store import ChecklistStore, checklist_view
from tuirecipe.events import CheckResult
from tuirecipe.runs import RunDir, create_run_dir
from tuirecipe.runs.rundir import EventWriter


def test_changing_the_model_then_the_data_makes_every_earlier_result_stale(tmp_path: Path):
    write_csv(tmp_path / "a.csv")
    write_csv(tmp_path / "b.csv", word="nice")
    first = config(tmp_path)
    run = check_job(first, FAST_CHECKS)

    view = checklist_view(first)
    assert set(view.results) == set(FAST_CHECKS)
    for result in view.results.values():
        assert result.current and result.run_id == run.id
        assert result.shown_status == result.status and result.counts_as == result.status
        assert result.ran_on == "model textcnn, data a.csv"

    other_model = config(tmp_path, model="fasttext")
    view = checklist_view(other_model)
    assert set(view.results) == set(FAST_CHECKS)
    for result in view.results.values():
        assert not result.current and result.shown_status == "stale"
        assert result.counts_as is None  # never today's verdict
        assert result.stale_reason == "ran on model textcnn — rerun"

    other_data = config(tmp_path, data="b.csv")
    for result in checklist_view(other_data).results.values():
        assert not result.current and result.counts_as is None
        assert result.stale_reason == "ran on data a.csv — rerun"

    # a setting the checks read (the seed draws the weights and the split)
    reseeded = config(tmp_path)
    reseeded.seed = 3
    for result in checklist_view(reseeded).results.values():
        assert result.stale_reason == "ran with seed = 0 (now 3) — rerun"

    # checks run on the other model: the newest results are now fasttext's, yet going
    # back to textcnn finds its own (older) results current again
    second = check_job(other_model, FAST_CHECKS)
    assert all(
        r.current and r.run_id == second.id for r in checklist_view(other_model).results.values()
    )
    back = checklist_view(config(tmp_path)).results
    assert all(r.current and r.run_id == run.id for r in back.values())

    # the data file edited in place: stale again, and said so (of results that are all
    # stale, the newest is shown: fasttext's)
    write_csv(tmp_path / "a.csv", word="okay")
    for result in checklist_view(config(tmp_path)).results.values():
        assert result.run_id == second.id and not result.current
        assert result.stale_reason == "ran on model fasttext; data a.csv has changed since — rerun"


def _record(runs: Path, results: list[CheckResult]) -> RunDir:
    run = create_run_dir(runs, "old")
    run.update_meta(id=run.id, name="old", job="check", created=time.time())
    run.write_status(state="finished", job="check")
    writer = EventWriter(run.events_path)
    try:
        for result in results:
            writer.write(result)
    finally:
        writer.close()
    return run


def test_results_from_before_fingerprints_and_stopped_checks_are_no_verdicts(tmp_path: Path):
    write_csv(tmp_path / "a.csv")
    cfg = config(tmp_path)
    old = CheckResult(name="simple_baseline", status="pass", summary="dev acc 0.896", t=10.0)
    _record(cfg.runs_path, [old])
    view = checklist_view(cfg)
    result = view.results["simple_baseline"]
    assert result.shown_status == "stale" and result.counts_as is None
    assert result.stale_reason == "ran before results were fingerprinted — rerun"

    from tuirecipe.checks.fingerprint import CurrentInputs

    stamp = CurrentInputs(cfg).stamp("fixed_seed")
    _record(
        cfg.runs_path,
        [
            CheckResult(name="fixed_seed", status="fail", summary="differs", t=20.0, **stamp),
            CheckResult(name="fixed_seed", status="stopped", summary="stopped", t=30.0, **stamp),
        ],
    )
    # a stopped run compared too little: the latest verdict stays the failure before it
    seed = checklist_view(cfg).results["fixed_seed"]
    assert seed.current and seed.status == "fail" and seed.counts_as == "fail"
    _record(
        cfg.runs_path,
        [CheckResult(name="fixed_seed", status="stopped", summary="stopped", t=40.0, **stamp)],
    )
    assert checklist_view(cfg).results["fixed_seed"].status == "fail"


def test_ticks_say_what_they_were_ticked_for(tmp_path: Path):
    write_csv(tmp_path / "a.csv")
    write_csv(tmp_path / "b.csv", word="nice")
    cfg = config(tmp_path)
    store = ChecklistStore(cfg.runs_path, cfg)
    entry = store.tick("looked_at_data", "read 80 rows")
    assert entry["ran_on"] == "data a.csv" and entry["note"] == "read 80 rows"
    store.tick("read_mispredictions", "mostly negation")
    store.save_human_baseline({"accuracy": 0.9, "n": 20, "correct": 18})
    ChecklistStore(cfg.runs_path).tick("understood_labels", "")  # no config: records nothing

    view = checklist_view(cfg)
    assert view.ticks["looked_at_data"].current and view.ticks["read_mispredictions"].current
    assert view.human_baseline is not None and view.human_baseline.current
    assert view.ticks["understood_labels"].stale_reason == (
        "ticked before results were fingerprinted — tick it again"
    )

    # another model: reading the data still holds, reading its mispredictions does not
    view = checklist_view(config(tmp_path, model="gru"))
    assert view.ticks["looked_at_data"].current
    assert view.ticks["read_mispredictions"].stale_reason == (
        "ticked on model textcnn — tick it again"
    )
    assert view.human_baseline is not None and view.human_baseline.current

    # other data: every tick and the human baseline are stale, with the data named
    view = checklist_view(config(tmp_path, data="b.csv"))
    assert view.ticks["looked_at_data"].shown_status == "stale"
    assert view.ticks["looked_at_data"].stale_reason == "ticked on data a.csv — tick it again"
    assert view.human_baseline is not None
    assert view.human_baseline.stale_reason == ("labelled on data a.csv — label the examples again")
    assert {v.name for v in view.stale()} == {
        "looked_at_data",
        "read_mispredictions",
        "understood_labels",
        "human_baseline",
    }


def test_a_live_result_from_a_running_job_is_judged_like_a_stored_one(tmp_path: Path):
    """The pane gets results on the bus before they are read back from the run."""
    from tuirecipe.checks.fingerprint import CurrentInputs
    from tuirecipe.checks.runner import fingerprinting
    from tuirecipe.checks.store import judge_result

    write_csv(tmp_path / "a.csv")
    cfg = config(tmp_path)
    seen: list = []
    emit = fingerprinting(cfg, seen.append)
    emit(CheckResult(name="lr_range", status="warn", summary="lr far from the band"))
    assert seen[0].ran_on == "model textcnn, data a.csv" and seen[0].fingerprint
    live = judge_result(CurrentInputs(cfg), seen[0].to_dict(), run_id="r1")
    assert live.current and live.counts_as == "warn" and live.run_id == "r1"
    elsewhere = judge_result(CurrentInputs(config(tmp_path, lr=0.1)), seen[0].to_dict())
    assert elsewhere.shown_status == "stale"
    assert elsewhere.stale_reason == "ran with train.lr = 0.0003 (now 0.1) — rerun"
