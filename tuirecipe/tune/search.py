"""Hyper-parameter search on Optuna: its samplers, pruners and study storage; each trial
a tuirecipe run.

The search is an Optuna study driven with ask-and-tell. When a worker slot frees, the
study is asked for a trial (so TPE sees every result so far), the space's values are
drawn with it (:meth:`Space.suggest`, conditional keys included), and the trial is run
as a child worker run of this process's parent "search" run (run dir, ``parent``,
``changed``). Each dev evaluation is reported to its trial; the study's pruner (median
with warm-up, successive halving, Hyperband) decides whether to stop it. A trial that
ends is told its value: the monitored dev metric of the run's reported best (COMPLETE),
its last reported value if it was pruned (PRUNED: only a trial stopped by the pruner
before its last step), FAIL otherwise (failed, stopped by the budget or an interrupt).

Storage makes a study resumable and shareable: ``--storage sqlite:///search.db`` (any
Optuna RDB URL) or ``journal:PATH`` (a journal file), with ``--study NAME``. Several
processes on one study, on one or many machines, run trials of it until it holds
``trials`` of them (complete, pruned or running); a search stopped midway and started
again with the same storage and study goes on where it stopped. Each trial keeps its
resolved config in the study (``config_toml``), so any process can write the best one.

Why Optuna rather than our own: TPE and the pruners are well studied and tested there,
and its storages already solve the locking that many processes on one study need.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuirecipe.config import Config
from tuirecipe.errors import ConfigError
from tuirecipe.events import EvalMetrics
from tuirecipe.monitor import AUTO, METRIC_MODES, parse_monitor, resolve_monitor
from tuirecipe.runs.jobs import JobClient, Signalled
from tuirecipe.runs.launch import prepare_run
from tuirecipe.runs.rundir import RunDir, atomic_write_text, read_events
from tuirecipe.tune.pool import make_pool
from tuirecipe.tune.records import (
    finish_parent_run,
    make_parent_run,
    parent_guard,
    trial_result,
)
from tuirecipe.tune.space import Space, with_values

SAMPLERS = ("tpe", "random")
PRUNERS = ("none", "median", "halving", "hyperband")
TIME = "time"  # an objective: the trial's training time in seconds, minimised


def direction(metric: str) -> str:
    """Optuna's direction for a dev metric (its mode in :data:`METRIC_MODES`)."""
    return "maximize" if METRIC_MODES.get(metric) == "max" else "minimize"


def search_monitor(config: Config) -> Any:
    """The monitor every trial of ``config`` judges its best by: ``train.monitor``, with
    ``auto`` decided on the training labels as a trial's trainer will."""
    if config.train.monitor != AUTO or config.data.task != "classification":
        return parse_monitor(config.train.monitor, config.data.task)
    from tuirecipe.data.cache import CACHE_ENV, prepare_cached
    from tuirecipe.data.prepare import prepare_data

    # Through the trials' cache: what this prepares, the first trials then read back.
    if os.environ.get(CACHE_ENV) == "0":
        counts = prepare_data(config, augment=False).class_counts
    else:
        counts = prepare_cached(config)[0].class_counts
    return resolve_monitor(config.train.monitor, config.data.task, counts)[0]


def parse_objectives(text: str) -> list[str]:
    """``"loss"`` or ``"acc,time"`` → the objectives, each a dev metric name or ``time``."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError("names no objective", source="--metric")
    if len(set(names)) < len(names):
        raise ConfigError(f"'{text}' names an objective twice", source="--metric")
    return names


def open_storage(url: str | None) -> Any:
    """An Optuna storage for ``url``: None → in memory (this process only); ``journal:PATH``
    → a journal file (no database needed; safe for processes on one file system); any
    other → an RDB URL (``sqlite:///search.db``, ``postgresql://…``)."""
    if not url:
        return None
    import optuna

    try:
        if url.startswith("journal:"):
            path = url.removeprefix("journal:")
            if not path:
                raise ValueError("journal: needs a file path, e.g. journal:search.log")
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(JournalFileBackend(path))
        return _retrying(lambda: optuna.storages.RDBStorage(url))
    except Exception as exc:  # a bad URL, a driver that is not installed, no access
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot open '{url}': {first}", source="--storage") from None


def _retrying(make: Any, tries: int = 8) -> Any:
    """``make()``, again after a short wait when it fails: processes started together on
    a new database race to create its tables, and all but one lose that race once."""
    for attempt in range(tries):
        try:
            return make()
        except Exception:
            if attempt == tries - 1:
                raise
            time.sleep(0.2 * (attempt + 1))  # back-off between retries, not synchronisation
    raise AssertionError("unreachable")


def make_study(
    *,
    storage: str | None,
    study: str | None,
    objectives: list[str],
    sampler: str = "tpe",
    pruner: str = "none",
    seed: int = 0,
    warmup_steps: int = 0,
    min_completed: int = 3,
    max_steps: int = 0,
) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler not in SAMPLERS:
        raise ConfigError(
            f"unknown sampler '{sampler}'; use {', '.join(SAMPLERS)}", source="--sampler"
        )
    if pruner not in PRUNERS:
        raise ConfigError(f"unknown pruner '{pruner}'; use {', '.join(PRUNERS)}", source="--pruner")
    if pruner != "none" and len(objectives) > 1:
        raise ConfigError(
            "pruning needs one objective (Optuna prunes single-objective studies only)",
            source="--pruner",
        )
    the_sampler = (
        optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, min_completed)))
        if sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=seed)
    )
    the_pruner: Any
    if pruner == "median":
        the_pruner = optuna.pruners.MedianPruner(
            n_startup_trials=min_completed, n_warmup_steps=warmup_steps
        )
    elif pruner == "halving":
        the_pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, warmup_steps))
    elif pruner == "hyperband":
        the_pruner = optuna.pruners.HyperbandPruner(
            min_resource=max(1, warmup_steps), max_resource=max_steps or "auto"
        )
    else:
        the_pruner = optuna.pruners.NopPruner()
    directions = [
        optuna.study.StudyDirection.MAXIMIZE
        if direction(name) == "maximize"
        else optuna.study.StudyDirection.MINIMIZE
        for name in objectives
    ]
    try:
        opened = open_storage(storage)
        return _retrying(
            lambda: optuna.create_study(
                storage=opened,
                study_name=study,
                sampler=the_sampler,
                pruner=the_pruner,
                directions=directions,
                load_if_exists=True,
            )
        )
    except ValueError as exc:  # an existing study with other directions
        raise ConfigError(str(exc), source="--study") from None


def fail_dead_trials(study: Any) -> int:
    """Trials left RUNNING by a search process of this machine that is gone (killed
    without a chance to tell the study) are told FAIL, so they no longer count toward
    the study's size; trials of other machines cannot be checked and are left alone."""
    import socket

    from optuna.trial import TrialState

    from tuirecipe.runs.rundir import pid_alive

    host, failed = socket.gethostname(), 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host") != host or not isinstance(attrs.get("pid"), int):
            continue
        if attrs["pid"] == os.getpid() or pid_alive(attrs["pid"]):
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            failed += 1
        except Exception:  # another process told it first
            pass
    return failed


def _counted(study: Any) -> list[Any]:
    """The study's trials that count toward its size: complete, pruned or running."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    return sorted(study.get_trials(deepcopy=False, states=states), key=lambda t: t.number)


class _Trials:
    """This process's trials: asked when a slot frees, reported at each dev evaluation,
    told how they ended."""

    def __init__(
        self,
        study: Any,
        space: Space,
        config: Config,
        parent: RunDir,
        objectives: list[str],
        trials: int,
        jobs: JobClient,
        motivation: str,
    ) -> None:
        self.study, self.space, self.config, self.parent = study, space, config, parent
        self.objectives, self.trials, self.jobs = objectives, trials, jobs
        self.motivation = motivation
        self.by_run: dict[str, Any] = {}  # run id → optuna trial
        self.values: dict[str, dict[str, Any]] = {}
        self.runs: list[RunDir] = []
        self.offsets: dict[str, int] = {}
        self.last: dict[str, tuple[int, float]] = {}  # run id → (step, last reported value)
        self.pruned: set[str] = set()
        self.told: set[str] = set()
        self.started: dict[str, float] = {}
        self.surplus = 0

    # -- asking --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[RunDir]:
        from optuna.trial import TrialState

        fail_dead_trials(self.study)
        asked = 0  # this process asks at most `trials`: failing trials are not retried
        while asked < self.trials and len(_counted(self.study)) < self.trials:
            trial = self.study.ask()
            asked += 1
            trial.set_user_attr("host", socket.gethostname())
            trial.set_user_attr("pid", os.getpid())
            # Another process may have asked at the same moment: the first `trials` of
            # the study run, a trial beyond them is given back at once.
            if trial.number not in {t.number for t in _counted(self.study)[: self.trials]}:
                self.study.tell(trial, state=TrialState.FAIL)
                self.surplus += 1
                return
            try:
                values = self.space.suggest(trial)
                cfg = with_values(self.config, values)
            except ConfigError as exc:  # a value the config refuses: this trial fails
                trial.set_user_attr("error", str(exc))
                self.study.tell(trial, state=TrialState.FAIL)
                continue
            run = prepare_run(
                cfg,
                "train",
                parent=self.parent,
                motivation=self.motivation or f"search trial {trial.number}",
                args={"study": self.study.study_name, "trial": trial.number},
            )
            trial.set_user_attr("run", run.id)
            trial.set_user_attr("config_toml", run.config_path.read_text(encoding="utf-8"))
            self.by_run[run.id], self.values[run.id] = trial, values
            self.runs.append(run)
            self.started[run.id] = time.monotonic()
            yield run

    # -- watching ------------------------------------------------------------------------
    def _read(self, run: RunDir) -> list[tuple[int, float]]:
        events, self.offsets[run.id] = read_events(run.events_path, self.offsets.get(run.id, 0))
        metric = self.objectives[0]
        out = []
        for e in events:
            if isinstance(e, EvalMetrics) and e.split == "dev" and metric in e.metrics:
                value = float(e.metrics[metric])
                if math.isfinite(value):
                    out.append((e.step, value))
        return out

    def tick(self, active: list[RunDir]) -> None:
        if len(self.objectives) > 1:
            return  # no pruning for several objectives: nothing to report
        for run in active:
            trial = self.by_run.get(run.id)
            if trial is None or run.id in self.pruned:
                continue
            for step, value in self._read(run):
                trial.report(value, step)
                self.last[run.id] = (step, value)
            if run.id in self.last and trial.should_prune():
                if self.jobs.control(run, "stop") is Signalled.SENT:
                    self.pruned.add(run.id)

    def done(self, run: RunDir) -> None:
        from optuna.trial import TrialState

        trial = self.by_run.get(run.id)
        if trial is None or run.id in self.told:
            return
        if len(self.objectives) == 1:
            for step, value in self._read(run):
                trial.report(value, step)
                self.last[run.id] = (step, value)
        seconds = time.monotonic() - self.started.get(run.id, time.monotonic())
        trial.set_user_attr("seconds", round(seconds, 3))
        result = trial_result(run)
        state = result["state"]
        values = self.objective_values(result["best"], seconds)
        if state == "finished" and values is not None:
            # Finished: every step ran (or early stopping ended it): never "pruned".
            self.pruned.discard(run.id)
            self.study.tell(trial, values if len(values) > 1 else values[0])
        elif run.id in self.pruned and state == "stopped":
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.pruned.discard(run.id)
            trial.set_user_attr("ended", state)
            self.study.tell(trial, state=TrialState.FAIL)
        self.told.add(run.id)

    def objective_values(self, best: dict[str, Any], seconds: float) -> list[float] | None:
        out = []
        for name in self.objectives:
            value = seconds if name == TIME else best.get(name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                return None
            out.append(float(value))
        return out

    def fail_untold(self) -> None:
        """An interrupt or a crash: the trials still running must not stay RUNNING in a
        shared study (they would count toward its size for ever)."""
        from optuna.trial import TrialState

        for run_id, trial in self.by_run.items():
            if run_id not in self.told:
                try:
                    self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                except Exception:  # the storage went away: nothing more to do
                    pass
                self.told.add(run_id)


def rank_key(result: dict[str, Any]) -> tuple[int, float]:
    """Complete trials by their value, then pruned ones by their last value, then the rest
    (the first objective; its direction already applied as a sign)."""
    order = {"complete": 0, "pruned": 1}.get(result["trial_state"], 2)
    value = result.get("value")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return (max(order, 2), math.inf)
    return (order, -value if result["direction"] == "maximize" else value)


def run_search(
    config: Config,
    space: Space,
    *,
    trials: int,
    seed: int | None = None,
    budget_s: float | None = None,
    parallel: int | None = None,
    per_gpu: int = 1,
    metric: str | None = None,
    sampler: str = "tpe",
    pruner: str = "none",
    warmup_steps: int = 0,
    min_completed: int = 3,
    storage: str | None = None,
    study_name: str | None = None,
    motivation: str = "",
    best_out: Path | None = None,
) -> dict[str, Any]:
    """Run trials of the study until it holds ``trials`` of them; a summary with this
    process's trials ranked (best first) and the study's best."""
    if metric is None:  # the config's train.monitor: what each trial keeps its best by
        metric = search_monitor(config).metric
    objectives = parse_objectives(metric)
    seed = config.seed if seed is None else seed
    study = make_study(
        storage=storage,
        study=study_name,
        objectives=objectives,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        warmup_steps=warmup_steps,
        min_completed=min_completed,
        max_steps=config.train.max_steps,
    )
    pool = make_pool(parallel, config.train.device, per_gpu)
    parent = make_parent_run(
        config,
        "search",
        {
            "trials": trials,
            "seed": seed,
            "budget_s": budget_s,
            "sampler": sampler,
            "pruner": pruner,
            "objectives": objectives,
            "storage": storage or "",
            "study": study.study_name,
            "space": [
                {"key": d.key, "kind": d.kind, "args": list(d.args), "when": dict(d.when)}
                for d in space.dimensions
            ],
        },
        motivation,
    )
    runner = _Trials(study, space, config, parent, objectives, trials, pool.jobs, motivation)
    try:
        with parent_guard(parent):
            pool.run(iter(runner), on_tick=runner.tick, on_done=runner.done, budget_s=budget_s)
    finally:
        runner.fail_untold()
    summary = _summary(study, runner, parent, objectives, pool.stopped_by_budget, best_out)
    summary["seed"] = seed
    finish_parent_run(parent, summary)
    return summary


def _summary(
    study: Any,
    runner: _Trials,
    parent: RunDir,
    objectives: list[str],
    budget_stopped: list[RunDir],
    best_out: Path | None,
) -> dict[str, Any]:
    from optuna.trial import TrialState

    frozen = {t.number: t for t in study.get_trials(deepcopy=False)}
    stopped = {r.id for r in budget_stopped}
    results = []
    for run in runner.runs:
        trial = frozen[runner.by_run[run.id].number]
        result = {"values": runner.values[run.id], **trial_result(run)}
        state = trial.state.name.lower()
        value: float | None
        if trial.state == TrialState.COMPLETE:
            value = trial.values[0]
        elif trial.state == TrialState.PRUNED:
            value = runner.last.get(run.id, (0, None))[1]
        else:
            value = None
        result.update(
            ci=(result.get("best_ci") or {}).get(objectives[0]),
            trial=trial.number,
            trial_state=state,
            value=value,
            values_all=list(trial.values) if trial.values else None,
            direction=direction(objectives[0]),
            seconds=trial.user_attrs.get("seconds"),
            pruned=trial.state == TrialState.PRUNED,
            budget_stopped=run.id in stopped,
        )
        results.append(result)
    results.sort(key=rank_key)
    complete = [t for t in frozen.values() if t.state == TrialState.COMPLETE]
    if len(objectives) == 1:
        best_trials = [study.best_trial] if complete else []
    else:
        best_trials = sorted(study.best_trials, key=lambda t: t.number) if complete else []
    best = _best_record(best_trials[0]) if best_trials else None
    for r in results:
        r["best_trial"] = any(t.number == r["trial"] for t in best_trials)
    best_path = None
    if best_trials and best_trials[0].user_attrs.get("config_toml"):
        text = best_trials[0].user_attrs["config_toml"]
        best_path = parent.path / "best_config.toml"
        atomic_write_text(best_path, text)
        if best_out is not None:
            atomic_write_text(best_out, text)
            best_path = best_out
    counts = {s.name.lower(): 0 for s in TrialState}
    for t in frozen.values():
        counts[t.state.name.lower()] += 1
    return {
        "parent": parent.id,
        "study": study.study_name,
        "metric": ",".join(objectives),
        "objectives": objectives,
        "directions": [direction(n) for n in objectives],
        "trials": len(runner.runs),
        "study_trials": {k: v for k, v in counts.items() if v},
        "surplus": runner.surplus,
        "results": results,
        "best": best,
        "pareto": [_best_record(t) for t in best_trials] if len(objectives) > 1 else [],
        "best_config": str(best_path or ""),
    }


def _best_record(trial: Any) -> dict[str, Any]:
    return {
        "trial": trial.number,
        "run": trial.user_attrs.get("run"),
        "values": dict(trial.params),
        "objective": list(trial.values) if trial.values else None,
    }
