"""Random search over a space, with a trial and time budget and median pruning.

Trials are sampled up front from the space with the search seed (reproducible) and run
as child worker runs of a parent "search" run. With pruning on, a running trial is
stopped at an evaluation when its dev loss is worse than the median dev loss of the
completed trials at the same step (the "median stopping rule" of Google Vizier), once
``min_completed`` trials have completed. The results are sorted by the dev metric and
the best trial's resolved config is written to ``best_config.toml`` in the parent run.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from tuirecipe.config import Config
from tuirecipe.events import EvalMetrics
from tuirecipe.monitor import METRIC_MODES, parse_monitor
from tuirecipe.runs.jobs import JobClient, Signalled
from tuirecipe.runs.launch import prepare_run
from tuirecipe.runs.rundir import RunDir, read_events
from tuirecipe.tune.pool import make_pool
from tuirecipe.tune.records import (
    finish_parent_run,
    make_parent_run,
    parent_guard,
    pool_config,
    trial_result,
)
from tuirecipe.tune.space import Space, with_values


def loss_at(curve: list[tuple[int, float]], step: int) -> float | None:
    """The dev loss of the last evaluation at or before ``step``."""
    value = None
    for s, loss in curve:
        if s > step:
            break
        value = loss
    return value


def should_prune(
    curve: list[tuple[int, float]], completed: list[list[tuple[int, float]]], min_completed: int = 3
) -> bool:
    """Median rule: the latest dev loss is above the completed trials' median there."""
    if not curve or len(completed) < min_completed:
        return False
    step, loss = curve[-1]
    others = [v for c in completed if (v := loss_at(c, step)) is not None]
    if len(others) < min_completed:
        return False
    return loss > float(np.median(others))


class _Pruner:
    def __init__(self, min_completed: int, jobs: JobClient) -> None:
        self.min_completed = min_completed
        self.jobs = jobs  # the pool's: it started the trials, it stops them
        self.curves: dict[str, list[tuple[int, float]]] = {}
        self.offsets: dict[str, int] = {}
        self.completed: list[list[tuple[int, float]]] = []
        self.pruned: set[str] = set()

    def _read(self, run: RunDir) -> bool:
        events, self.offsets[run.id] = read_events(run.events_path, self.offsets.get(run.id, 0))
        curve = self.curves.setdefault(run.id, [])
        before = len(curve)
        for e in events:
            if isinstance(e, EvalMetrics) and e.split == "dev" and "loss" in e.metrics:
                curve.append((e.step, float(e.metrics["loss"])))
        return len(curve) > before

    def tick(self, active: list[RunDir]) -> None:
        for run in active:
            if run.id in self.pruned or not self._read(run):
                continue
            if should_prune(self.curves[run.id], self.completed, self.min_completed):
                if self.jobs.control(run, "stop") is Signalled.SENT:
                    self.pruned.add(run.id)

    def done(self, run: RunDir) -> None:
        self._read(run)
        if run.id not in self.pruned and run.state() == "finished":
            self.completed.append(self.curves.get(run.id, []))


def sort_key(result: dict[str, Any], metric: str) -> tuple[int, float]:
    """Finished trials first, by ``metric`` of each one's kept checkpoint, best first."""
    value = result["best"].get(metric)
    if value is None or not math.isfinite(value):
        return (2, math.inf)
    value = -value if METRIC_MODES.get(metric) == "max" else value  # e.g. higher accuracy
    return (0 if result["state"] == "finished" and not result.get("pruned") else 1, value)


def run_search(
    config: Config,
    space: Space,
    *,
    trials: int,
    seed: int | None = None,
    budget_s: float | None = None,
    parallel: int | None = None,
    prune: bool = False,
    min_completed: int = 3,
    metric: str | None = None,
    motivation: str = "",
    best_out: Path | None = None,
) -> dict[str, Any]:
    """Run up to ``trials`` sampled configs; results sorted by ``metric`` (best first;
    default: the config's ``train.monitor``), each trial judged by its kept checkpoint."""
    if metric is None:
        metric = parse_monitor(config.train.monitor, config.data.task).metric
    pool = make_pool(parallel, config.train.device)
    config = pool_config(config, pool.parallel)
    seed = config.seed if seed is None else seed
    samples = space.samples(trials, seed)
    configs = [with_values(config, values) for values in samples]  # validate up front
    parent = make_parent_run(
        config,
        "search",
        {
            "trials": trials,
            "seed": seed,
            "budget_s": budget_s,
            "prune": prune,
            "space": [d.__dict__ for d in space.dimensions],
        },
        motivation,
    )
    runs: list[tuple[dict[str, Any], RunDir]] = []

    def starter(values: dict[str, Any], cfg: Config):
        def start() -> RunDir:
            run = prepare_run(
                cfg,
                "train",
                parent=parent,
                motivation=motivation or f"search trial {len(runs) + 1}",
            )
            runs.append((values, run))
            return run

        return start

    pruner = _Pruner(min_completed, pool.jobs) if prune else None
    with parent_guard(parent):
        pool.run(
            [starter(v, c) for v, c in zip(samples, configs)],
            on_tick=pruner.tick if pruner else None,
            on_done=pruner.done if pruner else None,
            budget_s=budget_s,
        )
    results = []
    for values, run in runs:
        r = {"values": values, **trial_result(run)}
        r["pruned"] = bool(pruner and run.id in pruner.pruned)
        r["budget_stopped"] = run.id in {b.id for b in pool.stopped_by_budget}
        results.append(r)
    results.sort(key=lambda r: sort_key(r, metric))
    best = next((r for r in results if sort_key(r, metric)[0] == 0), None)
    best_path = None
    if best is not None:
        best_run = next(run for _, run in runs if run.id == best["run"])
        best_path = parent.path / "best_config.toml"
        shutil.copyfile(best_run.config_path, best_path)
        if best_out is not None:
            shutil.copyfile(best_run.config_path, best_out)
            best_path = best_out
    summary = {
        "parent": parent.id,
        "metric": metric,
        "seed": seed,
        "trials": len(runs),
        "results": results,
        "best": best,
        "best_config": str(best_path or ""),
    }
    finish_parent_run(parent, summary)
    return summary
