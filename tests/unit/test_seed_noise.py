"""Comparing two runs against seed noise: Welch's test over each config's seed replicas."""

from __future__ import annotations

from pathlib import Path

from tuirecipe.config import config_from_dict
from tuirecipe.events import EvalMetrics
from tuirecipe.runs import EventWriter, RunDir, atomic_write_json, atomic_write_text
from tuirecipe.tune.seeds import seed_noise_verdict


def finished_run(runs: Path, run_id: str, *, lr: float, seed: int, acc: float) -> RunDir:
    run = RunDir(runs / run_id)
    run.path.mkdir(parents=True)
    config = config_from_dict({"runs_dir": str(runs), "seed": seed, "train": {"lr": lr}})
    atomic_write_text(run.config_path, config.to_toml())
    atomic_write_json(run.meta_path, {"id": run_id, "job": "train"})
    writer = EventWriter(run.events_path)
    writer.write(
        EvalMetrics(step=10, epoch=1.0, split="dev", metrics={"loss": 1 - acc, "acc": acc})
    )
    writer.close()
    run.write_status(state="finished")
    return run


def test_a_clear_gap_over_three_seeds_is_beyond_noise(tmp_path: Path) -> None:
    a = [finished_run(tmp_path, f"a{s}", lr=1e-3, seed=s, acc=0.80 + 0.002 * s) for s in range(3)]
    b = [finished_run(tmp_path, f"b{s}", lr=3e-3, seed=s, acc=0.90 + 0.002 * s) for s in range(3)]
    verdict = seed_noise_verdict(a[0], b[0])
    assert "differs by more than seed noise" in verdict and "(3 seeds)" in verdict


def test_overlapping_seeds_are_within_noise(tmp_path: Path) -> None:
    a = [
        finished_run(tmp_path, f"a{s}", lr=1e-3, seed=s, acc=acc)
        for s, acc in enumerate((0.80, 0.86, 0.83))
    ]
    b = [
        finished_run(tmp_path, f"b{s}", lr=3e-3, seed=s, acc=acc)
        for s, acc in enumerate((0.84, 0.81, 0.85))
    ]
    assert "within seed noise" in seed_noise_verdict(a[0], b[1])


def test_without_replicas_it_says_how_to_get_them(tmp_path: Path) -> None:
    a = finished_run(tmp_path, "a", lr=1e-3, seed=0, acc=0.8)
    b = finished_run(tmp_path, "b", lr=3e-3, seed=0, acc=0.9)
    assert "tuirecipe seeds" in seed_noise_verdict(a, b)
    c = finished_run(tmp_path, "c", lr=1e-3, seed=1, acc=0.85)
    assert "only in their seed" in seed_noise_verdict(a, c)


def test_no_verdict_where_it_would_mean_nothing(tmp_path: Path) -> None:
    a = finished_run(tmp_path, "a", lr=1e-3, seed=0, acc=0.8)
    b = finished_run(tmp_path, "b", lr=3e-3, seed=0, acc=0.9)
    c = finished_run(tmp_path, "c", lr=1e-2, seed=0, acc=0.7)
    d = finished_run(tmp_path, "d", lr=3e-2, seed=0, acc=0.6)
    # Four runs with four lr values: no pairwise "seed noise" claim about all four.
    assert seed_noise_verdict(a, b, c, d).startswith("judged for two runs at a time; 4")
    # A checks run against a training run of the same config.
    checks = finished_run(tmp_path, "checks", lr=1e-3, seed=1, acc=0.8)
    atomic_write_json(checks.meta_path, {"id": "checks", "job": "check"})
    verdict = seed_noise_verdict(a, checks)
    assert "checks is a check run" in verdict and "seed noise itself" not in verdict
    # Two keys changed (lr and dropout): no verdict, the keys are named.
    e = RunDir(tmp_path / "e")
    e.path.mkdir()
    table = {"runs_dir": str(tmp_path), "seed": 0, "train": {"lr": 3e-3}, "model": {"dropout": 0.3}}
    atomic_write_text(e.config_path, config_from_dict(table).to_toml())
    atomic_write_json(e.meta_path, {"id": "e", "job": "train"})
    verdict = seed_noise_verdict(a, e)
    assert "differ in 2 keys (model.dropout, train.lr)" in verdict
    # Same config and seed: a rerun.
    again = finished_run(tmp_path, "again", lr=1e-3, seed=0, acc=0.81)
    assert "same config and seed" in seed_noise_verdict(a, again)


def test_execution_settings_are_not_a_change(tmp_path: Path) -> None:
    a = finished_run(tmp_path, "a", lr=1e-3, seed=0, acc=0.8)
    b = RunDir(tmp_path / "b")
    b.path.mkdir()
    table = {"runs_dir": str(tmp_path), "seed": 1, "train": {"lr": 1e-3, "threads": 1}}
    atomic_write_text(b.config_path, config_from_dict(table).to_toml())
    atomic_write_json(b.meta_path, {"id": "b", "job": "train"})
    assert "only in their seed" in seed_noise_verdict(a, b)
