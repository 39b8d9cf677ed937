"""Search on Optuna: conditional spaces, how trials end (complete is never "pruned"),
ranking, shared and resumed studies, and bad options as one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from support.waiting import wait_until

from tuirecipe.config import config_from_dict
from tuirecipe.errors import ConfigError
from tuirecipe.events import EvalMetrics
from tuirecipe.runs import EventWriter, RunDir, atomic_write_json, atomic_write_text
from tuirecipe.runs.jobs import JobClient
from tuirecipe.tune.search import _Trials, rank_key
from tuirecipe.tune.space import parse_space

FAST = [
    "--set", "model.name=fasttext", "--set", "train.batch_size=64",
    "--set", "train.lr=0.003", "--set", "train.eval_every=3",
]  # fmt: skip


def tuirecipe(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=cwd, capture_output=True, text=True, timeout=240, **kw,
    )  # fmt: skip


CONDITIONAL = {
    "space": {
        "model.name": {"choice": ["fasttext", "transformer"]},
        "model.num_layers": {"int_range": [1, 3], "when": {"model.name": "transformer"}},
        "train.lr": {"log_uniform": [1e-4, 1e-2]},
    }
}


def test_a_conditional_key_is_drawn_only_where_its_condition_holds() -> None:
    space = parse_space(CONDITIONAL, "space.toml")
    assert [d.key for d in space.dimensions][-1] == "model.num_layers"  # after model.name
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    draws = [space.suggest(study.ask()) for _ in range(60)]
    for values in draws:
        assert ("model.num_layers" in values) == (values["model.name"] == "transformer")
        assert space.contains(values)
    assert {v["model.name"] for v in draws} == {"fasttext", "transformer"}
    assert not space.contains({"model.name": "fasttext", "model.num_layers": 2, "train.lr": 1e-3})


@pytest.mark.parametrize(
    "space, message",
    [
        ({"a.b": {"uniform": [0, 1], "when": {"c.d": 1}}}, "does not search"),
        (
            {
                "a.b": {"choice": [1, 2], "when": {"c.d": 1}},
                "c.d": {"choice": [1, 2], "when": {"a.b": 1}},
            },
            "depend on each other",
        ),
        ({"a.b": {"uniform": [0, 1], "when": 3}}, "when must be a table"),
    ],
)
def test_bad_conditions_are_named(space: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_space({"space": space}, "space.toml")
    assert message in str(info.value) and "space.toml" in str(info.value)


def ended_run(runs: Path, run_id: str, state: str, losses: list[float]) -> RunDir:
    run = RunDir(runs / run_id)
    run.path.mkdir(parents=True)
    atomic_write_text(run.config_path, config_from_dict({"runs_dir": str(runs)}).to_toml())
    atomic_write_json(run.meta_path, {"id": run_id, "job": "train"})
    writer = EventWriter(run.events_path)
    for i, loss in enumerate(losses, 1):
        writer.write(EvalMetrics(step=3 * i, epoch=i, split="dev", metrics={"loss": loss}))
    writer.close()
    run.write_status(state=state, step=3 * len(losses))
    return run


@pytest.mark.parametrize(
    "state, pruned, told",
    [
        ("finished", True, "COMPLETE"),  # it ran every step before the stop landed
        ("stopped", True, "PRUNED"),
        ("stopped", False, "FAIL"),  # stopped by someone else (budget, a person)
        ("failed", False, "FAIL"),
    ],
)
def test_how_a_trial_ended_decides_what_the_study_is_told(tmp_path, state, pruned, told):
    space = parse_space({"space": {"train.lr": {"log_uniform": [1e-4, 1e-2]}}})
    study = optuna.create_study()
    parent = ended_run(tmp_path, "parent", "running", [])
    trials = _Trials(study, space, config_from_dict({}), parent, ["loss"], 1, JobClient(), "")
    trial = study.ask()
    run = ended_run(tmp_path, "child", state, [0.9, 0.7])
    trials.by_run[run.id] = trial
    if pruned:
        trials.pruned.add(run.id)
    trials.done(run)
    frozen = study.get_trials()[0]
    assert frozen.state.name == told
    if told == "COMPLETE":
        assert frozen.value == 0.7  # the run's reported best dev loss
    assert frozen.intermediate_values == {3: 0.9, 6: 0.7}


def test_complete_trials_rank_first_then_pruned_by_their_last_value() -> None:
    def r(state: str, value: float | None, direction: str = "minimize") -> dict:
        return {"trial_state": state, "value": value, "direction": direction}

    results = [r("pruned", 0.2), r("fail", None), r("complete", 0.5), r("complete", 0.4)]
    ranked = sorted(results, key=rank_key)
    assert [(x["trial_state"], x["value"]) for x in ranked] == [
        ("complete", 0.4), ("complete", 0.5), ("pruned", 0.2), ("fail", None),
    ]  # fmt: skip
    acc = sorted([r("complete", 0.8, "maximize"), r("complete", 0.9, "maximize")], key=rank_key)
    assert [x["value"] for x in acc] == [0.9, 0.8]


def write_space(tmp_path: Path) -> Path:
    space = tmp_path / "space.toml"
    space.write_text('[space]\n"train.lr" = {log_uniform = [1e-3, 3e-2]}\n')
    return space


def study_trials(storage: str, name: str) -> list:
    from tuirecipe.tune.search import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(storage)).get_trials()


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study(tmp_path: Path) -> None:
    space = write_space(tmp_path)
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    args = [
        "search", *FAST, "--set", "train.max_steps=6", "--space", str(space),
        "--trials", "4", "--parallel", "1", "--storage", storage, "--study", "shared", "--json",
    ]  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tuirecipe", *args],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    mine = [json.loads(out)["results"] for out, _ in outs]
    complete = [t for t in study_trials(storage, "shared") if t.state.name == "COMPLETE"]
    assert len(complete) == 4 and len({t.number for t in complete}) == 4
    runs = {r["run"] for results in mine for r in results}
    assert len(runs) == sum(len(results) for results in mine) == 4  # no trial run twice
    assert all(mine), "both processes ran trials of the study"


@pytest.mark.slow
def test_a_stopped_search_resumes_and_completes(tmp_path: Path) -> None:
    space = write_space(tmp_path)
    storage = f"journal:{tmp_path / 'search.log'}"
    args = [
        "search", *FAST, "--set", "train.max_steps=30", "--space", str(space),
        "--trials", "3", "--parallel", "1", "--storage", storage, "--study", "resume",
    ]  # fmt: skip
    first = subprocess.Popen(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def one_complete() -> bool:
        try:
            return any(t.state.name == "COMPLETE" for t in study_trials(storage, "resume"))
        except Exception:  # the study is not created yet
            return False

    wait_until(one_complete, 180, "the first trial to complete")
    os.kill(first.pid, signal.SIGTERM)
    first.communicate(timeout=120)
    before = study_trials(storage, "resume")
    assert sum(t.state.name == "COMPLETE" for t in before) < 3
    assert not any(t.state.name == "RUNNING" for t in before)  # told before it left
    result = tuirecipe(*args, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = study_trials(storage, "resume")
    assert sum(t.state.name == "COMPLETE" for t in after) == 3
    summary = json.loads(result.stdout)
    assert summary["trials"] == 3 - sum(t.state.name == "COMPLETE" for t in before)


@pytest.mark.slow
def test_a_two_objective_search_marks_its_pareto_front(tmp_path: Path) -> None:
    result = tuirecipe(
        "search", *FAST, "--set", "train.max_steps=6", "--space", str(write_space(tmp_path)),
        "--trials", "2", "--parallel", "2", "--metric", "acc,time", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["directions"] == ["maximize", "minimize"]
    assert summary["pareto"] and all(len(p["objective"]) == 2 for p in summary["pareto"])
    assert any(r["best_trial"] for r in summary["results"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--study", "x"], "--study: a study name needs --storage"),
        (["--storage", "nosuchdb://x"], "--storage: cannot open"),
        (["--metric", "acc,time", "--pruner", "median"], "pruning needs one objective"),
    ],
)
def test_bad_search_options_are_one_line(tmp_path: Path, extra, message) -> None:
    result = tuirecipe(
        "search", "--space", str(write_space(tmp_path)), "--trials", "1", *extra, cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
