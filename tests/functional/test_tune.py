"""Tuning: search spaces, sweeps, random search, seed noise, cross-validation, the pool."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tuirecipe.config import load_config
from tuirecipe.data.splits import stratified_kfold
from tuirecipe.errors import ConfigError
from tuirecipe.runs import RunDir, list_runs
from tuirecipe.tune.cv import ensemble_outputs, score, subset
from tuirecipe.tune.seeds import differs_beyond_noise, mean_std, welch_t_test
from tuirecipe.tune.space import load_space, parse_space, with_values
from tuirecipe.tune.sweep import parse_vary

REPO = Path(__file__).resolve().parents[2]
FAST = [
    "--set",
    "model.name=fasttext",
    "--set",
    "train.batch_size=64",
    "--set",
    "train.lr=0.003",
    "--set",
    "train.eval_every=3",
]


def tuirecipe(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("command", ["sweep", "search", "seeds", "cv", "augment-preview"])
def test_help_on_tuning_commands(command: str, tmp_path: Path) -> None:
    result = tuirecipe(command, "--help", cwd=tmp_path, timeout=30)
    assert result.returncode == 0 and "usage: tuirecipe" in result.stdout


# -- search space -------------------------------------------------------------------------


def test_samples_lie_in_the_space_and_are_reproducible() -> None:
    import optuna

    space = load_space(REPO / "sample_configs" / "search_space.toml")

    def draw(seed: int, n: int = 200) -> list[dict]:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        return [space.suggest(study.ask()) for _ in range(n)]

    samples = draw(7)
    assert all(space.contains(s) for s in samples)
    assert samples == draw(7) and samples != draw(8)
    lrs = np.array([s["train.lr"] for s in samples])
    assert 1e-4 <= lrs.min() and lrs.max() <= 1e-2
    # log-uniform: about half the draws below the geometric midpoint 1e-3
    assert 0.35 < (lrs < 1e-3).mean() < 0.65
    assert {s["model.embed_dim"] for s in samples} == {32, 64, 128}
    sizes = {s["train.batch_size"] for s in samples}
    assert all(isinstance(b, int) for b in sizes) and min(sizes) == 16 and max(sizes) == 64
    # every sample makes a valid config
    base = load_config(None)
    for s in samples[:5]:
        cfg = with_values(base, s)
        assert cfg.train.lr == s["train.lr"] and cfg.model.dropout == s["model.dropout"]


@pytest.mark.parametrize(
    "space, message",
    [
        ({"space": {"train.lr": {"log_uniform": [0, 1]}}}, "low > 0"),
        ({"space": {"train.lr": {"gaussian": [0, 1]}}}, "unknown distribution"),
        ({"space": {"train.batch_size": {"int_range": [64, 16]}}}, "low <= high"),
        ({"space": {}}, "no [space]"),
    ],
)
def test_bad_spaces_are_reported(space: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_space(space, "space.toml")
    assert message in str(info.value)


def test_unknown_key_in_a_trial_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        with_values(load_config(None), {"train.lrr": 0.1})
    assert "train.lrr" in str(info.value)


def test_parse_vary() -> None:
    assert parse_vary("train.lr=1e-4,3e-4,1e-3") == ("train.lr", [1e-4, 3e-4, 1e-3])
    assert parse_vary("model.name=fasttext,gru") == ("model.name", ["fasttext", "gru"])
    with pytest.raises(ConfigError):
        parse_vary("train.lr")


# -- seeds --------------------------------------------------------------------------------


def test_mean_std_and_differs_beyond_noise() -> None:
    mean, std = mean_std([0.8, 0.82, 0.84])
    assert mean == pytest.approx(0.82) and std == pytest.approx(0.02)
    assert differs_beyond_noise([0.80, 0.81, 0.80], [0.90, 0.91, 0.905])
    assert not differs_beyond_noise([0.80, 0.85, 0.78], [0.82, 0.79, 0.84])
    assert welch_t_test([0.8], [0.9]) == 1.0  # one value a side: cannot tell


# -- cross-validation ---------------------------------------------------------------------


def test_folds_are_disjoint_cover_every_row_and_are_stratified() -> None:
    rng = np.random.default_rng(0)
    labels = rng.choice(["a", "b", "c"], size=503, p=[0.6, 0.3, 0.1])
    folds = stratified_kfold(labels, 5, seed=3)
    held = [set(v.tolist()) for _, v in folds]
    assert sum(len(h) for h in held) == len(labels) and set().union(*held) == set(range(503))
    for (train, val), h in zip(folds, held):
        assert not set(train.tolist()) & h and len(train) + len(val) == len(labels)
        for c in "abc":
            share, overall = (labels[val] == c).mean(), (labels == c).mean()
            assert abs(share - overall) < 0.02
    assert [v.tolist() for _, v in folds] == [v.tolist() for _, v in stratified_kfold(labels, 5, 3)]


def test_ensemble_is_the_mean_of_member_probabilities() -> None:
    a = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
    b = np.array([[0.6, 0.4], [0.8, 0.2], [0.3, 0.7]])
    ens = ensemble_outputs([a, b])
    np.testing.assert_allclose(ens, (a + b) / 2)
    targets = np.array([0, 0, 1])
    assert score(a, targets, "classification")["acc"] == pytest.approx(2 / 3)
    assert score(ens, targets, "classification")["acc"] == 1.0


def test_subset_keeps_rows_aligned() -> None:
    from tuirecipe.data.prepare import prepare_data

    data = prepare_data(load_config(None))
    idx = np.array([5, 1, 9])
    part = subset(data.train, idx)
    assert part.texts == [data.train.texts[i] for i in idx]
    assert np.array_equal(part.targets, data.train.targets[idx])
    assert np.array_equal(part.ids, data.train.ids[idx])


# -- end to end through real worker processes ---------------------------------------------


def test_sweep_makes_one_child_per_value_differing_only_in_that_key(tmp_path: Path) -> None:
    result = tuirecipe(
        "sweep",
        *FAST,
        "--set",
        "train.max_steps=6",
        "--vary",
        "train.lr=1e-4,3e-4,1e-3",
        "--parallel",
        "3",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    runs = {r.id: r for r in list_runs(tmp_path / "runs")}
    (parent,) = [r for r in runs.values() if r.job == "sweep"]
    children = [r for r in runs.values() if r.parent == parent.id]
    assert len(children) == 3 and len(runs) == 4
    lrs, hits = [], []
    for child in children:
        meta = RunDir(Path(child.path)).read_meta()
        assert set(meta["changed"]) == {"train.lr"}, meta["changed"]
        assert meta["changed"]["train.lr"][0] == 0.003  # the parent's value
        lrs.append(meta["changed"]["train.lr"][1])
        assert child.state == "finished" and child.best["loss"] > 0
        # The pool's share of the cores is an execution setting: in meta, not the config.
        config = tomllib.loads((Path(child.path) / "config.toml").read_text())
        assert config["train"]["threads"] == 0
        assert meta["execution"]["threads"] >= 1
        hits.append(meta["data_cache"]["hit"])
    assert sorted(lrs) == [1e-4, 3e-4, 1e-3]
    # Started together, the three prepare once: one writes the cache, the others wait and
    # read it back (and say so in their logs).
    assert sorted(hits) == [False, True, True]
    assert (tmp_path / "runs" / ".cache" / "prepared").is_dir()
    assert "best dev loss" in result.stdout and "0.0003" in result.stdout
    summary = json.loads((Path(parent.path) / "summary.json").read_text())
    assert [r["value"] for r in summary["results"]] == [1e-4, 3e-4, 1e-3]
    assert parent.state == "finished"


def test_cv_runs_folds_and_the_ensemble(tmp_path: Path) -> None:
    result = tuirecipe(
        "cv",
        *FAST,
        "--set",
        "train.max_steps=6",
        "-k",
        "2",
        "--parallel",
        "2",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert len(summary["folds"]) == 2 and summary["members"] == 2
    assert all(f["state"] == "finished" and f["steps"] == 6 for f in summary["folds"])
    runs = {r.id: r for r in list_runs(tmp_path / "runs")}
    fold_runs = [RunDir(Path(r.path)) for r in runs.values() if r.job == "cv_fold"]
    assert len(fold_runs) == 2
    members = [np.load(r.path / "heldout_outputs.npy") for r in fold_runs]
    np.testing.assert_allclose(members[0].sum(1), 1.0, rtol=1e-5)
    targets = np.array(
        json.loads((fold_runs[0].path / "fold_result.json").read_text())["heldout_targets"]
    )
    expected = score(np.mean(members, axis=0), targets, "classification")
    assert summary["ensemble"]["acc"] == pytest.approx(expected["acc"])
    single = np.mean([f["heldout"]["acc"] for f in summary["folds"]])
    assert summary["ensemble_gain_over_mean"] == pytest.approx(expected["acc"] - single)
    lo, hi = summary["ensemble_gain_over_mean_ci"]  # a paired bootstrap over held-out rows
    assert lo <= summary["ensemble_gain_over_mean"] <= hi
    assert "bootstrap" in summary["ensemble_gain_method"]
    for r in fold_runs:  # each fold's training is recorded in its own run directory
        kinds = {e.kind for e in r.events()}
        assert {"step", "eval"} <= kinds
        assert any(e.kind == "eval" and e.split == "heldout" for e in r.events())
        meta = r.read_meta()
        assert meta["parent"] in runs and runs[meta["parent"]].job == "cv"
        kept = meta["checkpoint"]  # the validation figures are the kept checkpoint's
        fold = json.loads((r.path / "fold_result.json").read_text())
        assert fold["validation_kept"]["step"] == kept["step"]
        again = tuirecipe("eval", str(r.path), "--json", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        figures = json.loads(again.stdout)
        assert figures["split"].startswith("validation fold") and figures["matches_recorded"]


def test_search_writes_sorted_results_and_best_config(tmp_path: Path) -> None:
    space = tmp_path / "space.toml"
    space.write_text(
        '[space]\n"train.lr" = {log_uniform = [1e-3, 3e-2]}\n'
        '"model.embed_dim" = {choice = [16, 32]}\n'
    )
    result = tuirecipe(
        "search",
        *FAST,
        "--set",
        "train.max_steps=6",
        "--space",
        str(space),
        "--trials",
        "2",
        "--parallel",
        "2",
        "--seed",
        "5",
        "--metric",
        "loss",  # the demo is long-tailed: without it the objective is macro-F1 (auto)
        "--json",
        "--out",
        str(tmp_path / "best.toml"),
        "--per-gpu",
        "2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    gpu = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if gpu == "False":  # on CPU the option is a no-op, and says so
        assert "--per-gpu 2 has no effect: no CUDA GPU is visible" in result.stderr
    summary = json.loads(result.stdout)
    losses = [r["best"]["loss"] for r in summary["results"]]
    assert len(losses) == 2 and losses == sorted(losses)
    assert [r["value"] for r in summary["results"]] == losses  # the objective is dev loss
    assert [r["best_trial"] for r in summary["results"]] == [True, False]
    assert all(r["trial_state"] == "complete" and len(r["ci"]) == 2 for r in summary["results"])
    parsed = load_space(space)
    assert all(parsed.contains(r["values"]) for r in summary["results"])
    best = load_config(tmp_path / "best.toml")
    assert best.train.lr == summary["best"]["values"]["train.lr"]
    parent = [r for r in list_runs(tmp_path / "runs") if r.job == "search"][0]
    assert (Path(parent.path) / "best_config.toml").is_file()
    trials = [RunDir(Path(r.path)) for r in list_runs(tmp_path / "runs") if r.job == "train"]
    uses = [t.read_meta()["data_cache"] for t in trials]
    assert sorted(u["hit"] for u in uses) == [False, True] and len({u["key"] for u in uses}) == 1
    reused = [t for t, u in zip(trials, uses) if u["hit"]][0]
    assert any(
        e.kind == "log" and "prepared data reused from the cache" in e.message
        for e in reused.events()
    )
