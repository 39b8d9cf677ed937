"""The same config over k seeds: how much of a difference is noise.

The seed drives the weights' initialisation, the batch order and (without
``data.dev_path``) the train/dev split, so the spread covers all three.

:func:`differs_beyond_noise` is Welch's t-test (unequal variances) at ``alpha = 0.05``;
with three seeds a side it only flags large, consistent differences — which is the point:
a difference it does not flag is not worth a conclusion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tuirecipe.config import Config
from tuirecipe.runs.launch import prepare_run
from tuirecipe.tune.pool import make_pool
from tuirecipe.tune.records import (
    finish_parent_run,
    make_parent_run,
    parent_guard,
    trial_result,
)
from tuirecipe.tune.space import with_values


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value)."""
    a = np.asarray(values, dtype=float)
    if len(a) == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test; 1.0 when it cannot be computed."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return 1.0
    if np.std(a) == 0 and np.std(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    p = stats.ttest_ind(a, b, equal_var=False).pvalue
    return float(p) if math.isfinite(p) else 1.0


def differs_beyond_noise(
    a_values: Sequence[float], b_values: Sequence[float], alpha: float = 0.05
) -> bool:
    """True when Welch's t-test rejects "same mean" at ``alpha`` (two-sided)."""
    return welch_t_test(a_values, b_values) < alpha


def metric_of(best: dict[str, Any], task: str, name: str | None = None) -> tuple[str, float]:
    """The dev metric reported for a run: ``name`` (the run's monitor) when given and not
    the loss, else accuracy (classification) or MSE (regression)."""
    key = name if name and name != "loss" else ("acc" if task == "classification" else "mse")
    return key, float(best.get(key, math.nan))


def monitored_name(run: Any) -> str | None:
    """The dev metric ``run`` judged its best by (``train.monitor``, auto resolved)."""
    from tuirecipe.runs.listing import kept_dev_eval

    return kept_dev_eval(run).monitor.metric


def run_seeds(
    config: Config,
    k: int,
    *,
    parallel: int | None = None,
    per_gpu: int = 1,
    first_seed: int | None = None,
    motivation: str = "",
) -> dict[str, Any]:
    """Train ``config`` with seeds ``first_seed … first_seed + k - 1``; mean ± std."""
    pool = make_pool(parallel, config.train.device, per_gpu)
    start = config.seed if first_seed is None else first_seed
    seeds = list(range(start, start + k))
    parent = make_parent_run(config, "seeds", {"k": k, "seeds": seeds}, motivation)
    runs = [
        prepare_run(
            with_values(config, {"seed": s}),
            "train",
            parent=parent,
            motivation=motivation or f"seed {s}",
        )
        for s in seeds
    ]
    with parent_guard(parent):
        pool.run(runs)
    results = [{"seed": s, **trial_result(r)} for s, r in zip(seeds, runs)]
    watched = monitored_name(runs[0]) if runs else None  # macro-F1 on long-tailed labels
    name, _ = metric_of({}, config.data.task, watched)
    values = [metric_of(r["best"], config.data.task, watched)[1] for r in results]
    losses = [float(r["best"].get("loss", math.nan)) for r in results]
    mean, std = mean_std(values)
    loss_mean, loss_std = mean_std(losses)
    summary = {
        "parent": parent.id,
        "metric": name,
        "values": values,
        "mean": mean,
        "std": std,
        "loss_mean": loss_mean,
        "loss_std": loss_std,
        "results": results,
    }
    finish_parent_run(parent, summary)
    return summary


def _seed_of(run: Any) -> Any:
    from tuirecipe.runs.compare import read_config_table

    return read_config_table(run).get("seed")


def _config_without_seed(run: Any) -> dict[str, Any]:
    from tuirecipe.config import flatten
    from tuirecipe.runs.compare import IGNORED_KEYS, read_config_table

    table = flatten(read_config_table(run))
    return {k: v for k, v in table.items() if k not in IGNORED_KEYS and k != "seed"}


def seed_noise_verdict(a: Any, b: Any | None = None, *more: Any) -> str:
    """For two runs (RunDir): does their dev metric differ by more than seed noise?

    A verdict is given only where it means something: two training runs whose configs
    differ in exactly one key besides ``seed`` (execution settings aside). Otherwise it
    says why there is none (another job, more or fewer than two runs, several keys
    changed). Each run's seed replicas are the finished train runs in the same runs
    directory whose config equals its own but for ``seed`` (``tuirecipe seeds`` makes
    them). With at least two a side, Welch's t-test decides; otherwise the verdict says
    how to get them.
    """
    from tuirecipe.runs.listing import best_dev_metrics
    from tuirecipe.runs.rundir import RunDir

    if b is None or more:
        count = 1 if b is None else 2 + len(more)
        return f"judged for two runs at a time; {count} compared: mark two"
    jobs = [str(run.read_meta().get("job") or "train") for run in (a, b)]
    others = [(run.id, job) for run, job in zip((a, b), jobs) if job != "train"]
    if others:
        run_id, job = others[0]
        return f"none: {run_id} is a {job} run, not a training run"
    key_a, key_b = _config_without_seed(a), _config_without_seed(b)
    if key_a == key_b:
        if _seed_of(a) == _seed_of(b):
            return "none: the two runs have the same config and seed (a rerun, not a change)"
        return "the two runs differ only in their seed: their gap is seed noise itself"
    changed = sorted(k for k in set(key_a) | set(key_b) if key_a.get(k) != key_b.get(k))
    if len(changed) > 1:
        return (
            f"none: the runs differ in {len(changed)} keys ({', '.join(changed)}); "
            "a gap cannot be put down to one change"
        )
    task = key_a.get("data.task", "classification")
    watched = monitored_name(a)  # the metric the runs keep their best by
    groups: list[list[float]] = [[], []]
    for path in sorted(a.path.parent.iterdir()):
        if not (path / "config.toml").is_file():
            continue
        run = RunDir(path)
        if run.read_status().get("state") != "finished" or run.read_meta().get("job") != "train":
            continue
        config = _config_without_seed(run)
        for i, wanted in enumerate((key_a, key_b)):
            if config == wanted:
                value = metric_of(best_dev_metrics(run), task, watched)[1]
                if math.isfinite(value):
                    groups[i].append(value)
    name, _ = metric_of({}, task, watched)
    if min(len(g) for g in groups) < 2:
        return (
            f"unknown: {len(groups[0])} and {len(groups[1])} finished seed replicas; "
            "run `tuirecipe seeds CONFIG -k 3` for each config"
        )
    (ma, sa), (mb, sb) = mean_std(groups[0]), mean_std(groups[1])
    p = welch_t_test(groups[0], groups[1])
    verdict = (
        "differs by more than seed noise"
        if differs_beyond_noise(groups[0], groups[1])
        else "within seed noise: not a conclusion"
    )
    return (
        f"dev {name} {ma:.4f} ± {sa:.4f} ({len(groups[0])} seeds) vs {mb:.4f} ± {sb:.4f} "
        f"({len(groups[1])} seeds): {verdict} (Welch p = {p:.3g})"
    )
