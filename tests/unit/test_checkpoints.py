"""Checkpoints that match the numbers (issue 15, point 1): the monitored metric, best.pt /
last.pt / model.pt and train.keep, what the runs listing reports, the CV folds' own
vocabularies and the ensemble gain's interval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tuirecipe.config import load_config
from tuirecipe.data.prepare import prepare_data
from tuirecipe.errors import ConfigError
from tuirecipe.events import EvalMetrics, Log
from tuirecipe.monitor import Monitor, parse_monitor
from tuirecipe.runs.launch import prepare_run
from tuirecipe.runs.listing import kept_dev_eval, list_runs
from tuirecipe.runs.rundir import EventWriter, create_run_dir
from tuirecipe.train.callbacks import EarlyStopping
from tuirecipe.train.job import prepare_training, run_training
from tuirecipe.tune.cv import fold_data, gain_interval

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class JobCtx:
    """What the job pipeline reads from the worker's JobContext, without a worker; the
    events are kept and written to the run's events.jsonl, as a worker writes them."""

    def __init__(self, config) -> None:
        self.config, self.args = config, {}
        self.run = prepare_run(config, "train")
        self.events: list = []
        self.control = None

    def emit(self, event) -> None:
        self.events.append(event)
        writer = EventWriter(self.run.events_path)
        writer.write(event)
        writer.close()

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message=message, level=level))


def overshoot_config(tmp_path: Path, *overrides: str):
    """A high learning rate on the demo: the dev loss bottoms out at step 70, then rises,
    and early stopping (patience 3) ends the run at step 90."""
    return load_config(
        None,
        [
            f"runs_dir={tmp_path}",
            "seed=5",
            "model.name=textcnn",
            "model.embed_dim=16",
            "model.num_filters=8",
            "train.batch_size=64",
            "train.lr=0.05",
            "train.eval_every=10",
            "train.max_steps=300",
            "train.early_stopping_patience=3",
            "train.monitor=dev.loss",  # the demo is long-tailed: auto would pick macro-F1
            *overrides,
        ],
    )


def train(config):
    ctx = JobCtx(config)
    trainer = prepare_training(ctx, prepare_data(config), describe="test")
    result = run_training(trainer, config)
    evals = {e.step: e.metrics for e in ctx.events if isinstance(e, EvalMetrics)}
    return ctx, trainer, result, evals


def load(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- the monitored metric --------------------------------------------------------------------


def test_monitor_modes_and_the_first_best_wins() -> None:
    loss, acc = parse_monitor("dev.loss"), parse_monitor("dev.acc")
    assert (loss.mode, acc.mode) == ("min", "max")
    evals = [{"loss": 0.9, "acc": 0.6}, {"loss": 0.5, "acc": 0.7}, {"loss": 0.5, "acc": 0.9}]
    assert loss.best_of(evals) is evals[1]  # a tie does not improve: the earlier stays
    assert acc.best_of(evals) is evals[2]
    assert loss.best_of([{"acc": 1.0}, {"loss": float("nan")}]) is None
    assert parse_monitor("dev.mae", "regression") == Monitor("mae", "min")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("train.monitor=acc", "must be 'dev.<metric>'"),
        ("train.monitor=dev.mse", "'mse' is not a classification metric"),
        ("train.keep=first", "must be one of best, last"),
    ],
)
def test_bad_monitor_or_keep_is_one_line_naming_the_key(setting: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(None, [setting])
    assert setting.split("=")[0] in str(info.value)


class FakeTrainer:
    def __init__(self, monitor: Monitor) -> None:
        self.monitor, self.last_eval, self.reasons = monitor, {}, []

    def stop_early(self, reason: str) -> None:
        self.reasons.append(reason)


def test_early_stopping_follows_the_monitor_direction() -> None:
    accs = (0.5, 0.6, 0.55, 0.6)  # the best, 0.6, is not beaten twice in a row
    stopper, trainer = EarlyStopping(patience=2), FakeTrainer(parse_monitor("dev.acc"))
    for a in accs:
        trainer.last_eval = {"acc": a, "loss": 1.0}
        stopper.on_eval_end(trainer)
    assert len(trainer.reasons) == 1 and "dev acc has not improved on 0.6" in trainer.reasons[0]
    rising, trainer = EarlyStopping(patience=2), FakeTrainer(parse_monitor("dev.acc"))
    for a in (0.5, 0.6, 0.7, 0.8, 0.9):  # higher is better: never stops
        trainer.last_eval = {"acc": a, "loss": 1.0 + a}  # while the loss rises
        rising.on_eval_end(trainer)
    assert trainer.reasons == []


# -- best.pt, last.pt, model.pt and train.keep -------------------------------------------------


def test_keep_best_restores_the_best_weights_and_reports_them(tmp_path: Path) -> None:
    ctx, trainer, result, evals = train(overshoot_config(tmp_path))
    best_step = min(evals, key=lambda s: evals[s]["loss"])
    assert result.state == "finished" and best_step < result.steps  # stopped early, later
    assert result.kept == "best" and result.kept_eval["step"] == best_step
    path = ctx.run.path
    best, last = load(path / "best.pt"), load(path / "last.pt")
    assert not same_weights(best, last)
    assert (path / "model.pt").read_bytes() == (path / "best.pt").read_bytes()
    assert same_weights(trainer.model.state_dict(), best)  # restored before train end
    (summary,) = list_runs(tmp_path)
    assert summary.best == evals[best_step] != evals[result.steps]
    assert (summary.best_step, summary.checkpoint) == (best_step, "best.pt")
    predictions = json.loads((path / "dev_predictions.json").read_text())
    wrong = sum(r["gold"] != r["pred"] for r in predictions["rows"])
    assert predictions["step"] == best_step
    assert 1 - wrong / len(predictions["rows"]) == pytest.approx(evals[best_step]["acc"])

    ctx, trainer, result, evals = train(overshoot_config(tmp_path, "train.keep=last"))
    path = ctx.run.path
    assert result.kept == "last" and result.kept_eval["step"] == result.steps
    assert (path / "model.pt").read_bytes() == (path / "last.pt").read_bytes()
    assert same_weights(load(path / "best.pt"), best)  # the same run: the same best
    kept = kept_dev_eval(ctx.run)
    assert kept.metrics == evals[result.steps] and kept.checkpoint == "last.pt"
    assert ctx.run.read_meta()["checkpoint"]["best"] == {"file": "best.pt", "step": best_step}


def test_when_the_last_evaluation_is_the_best_both_checkpoints_agree(tmp_path: Path) -> None:
    config = overshoot_config(tmp_path, "train.lr=0.003", "train.max_steps=30")
    ctx, trainer, result, evals = train(config)
    assert min(evals, key=lambda s: evals[s]["loss"]) == 30 == result.steps
    path = ctx.run.path
    assert same_weights(load(path / "best.pt"), load(path / "last.pt"))
    assert ctx.run.read_meta()["checkpoint"]["step"] == 30


def test_the_monitor_picks_the_checkpoint(tmp_path: Path) -> None:
    ctx, _, result, evals = train(overshoot_config(tmp_path, "train.monitor=dev.acc"))
    by_acc = max(evals, key=lambda s: (evals[s]["acc"], -s))  # the first of the highest
    by_loss = min(evals, key=lambda s: evals[s]["loss"])
    assert by_acc != by_loss  # the constructed case: the two monitors disagree
    assert result.kept_eval["step"] == by_acc == ctx.run.read_meta()["checkpoint"]["step"]


def write_run(tmp_path: Path, config_toml: str, state: str, evals: list[tuple[int, dict]]):
    run = create_run_dir(tmp_path, "x")
    run.config_path.write_text(config_toml, encoding="utf-8")
    writer = EventWriter(run.events_path)
    for step, metrics in evals:
        writer.write(EvalMetrics(step=step, epoch=1.0, split="dev", metrics=metrics))
    writer.close()
    run.write_status(state=state, step=evals[-1][0])
    return run


def test_a_run_without_a_recorded_checkpoint_reports_the_best_by_its_monitor(
    tmp_path: Path,
) -> None:
    evals = [(10, {"loss": 0.9, "acc": 0.6}), (20, {"loss": 0.5, "acc": 0.7})]
    evals.append((30, {"loss": 0.6, "acc": 0.8}))
    by_acc = write_run(tmp_path, '[train]\nmonitor = "dev.acc"\n', "running", evals)
    kept = kept_dev_eval(by_acc)
    assert (kept.step, kept.checkpoint) == (30, "best.pt")  # live: best.pt holds the best so far
    older = write_run(tmp_path, "", "finished", evals)  # before checkpoints were recorded
    kept = kept_dev_eval(older)
    assert (kept.step, kept.checkpoint) == (20, "")  # no file holds those weights
    older.update_meta(checkpoint={"file": "last.pt", "step": 30})
    assert kept_dev_eval(older).metrics == {"loss": 0.6, "acc": 0.8}


# -- cross-validation -------------------------------------------------------------------------


def test_each_fold_builds_its_vocabulary_from_its_training_part(tmp_path: Path) -> None:
    rows = ["text,label"]
    for i in range(60):  # every text has a word of its own, and a word of its class
        rows.append(f"common {'good' if i % 2 else 'bad'} word{i},{'pos' if i % 2 else 'neg'}")
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = load_config(None, [f"data.path={tmp_path / 'd.csv'}", "data.dev_fraction=0.2"])
    data = prepare_data(config, augment=False)
    training, heldout = fold_data(config, data, 0, 3)
    own = {t.split()[-1] for t in training.train.texts}
    validation_only = {t.split()[-1] for t in training.dev.texts} - own
    assert validation_only and validation_only <= set(data.vocab.itos)  # the whole split's
    assert not validation_only & set(training.vocab.itos)  # the fold's own: none of them
    assert own <= set(training.vocab.itos)
    unk = training.vocab.unk_id
    assert all(row[2] == unk for row in training.dev.ids)  # word{i} is unknown to the fold
    assert len(heldout) == len(data.dev) and heldout.ids.max() < len(training.vocab)


def test_the_ensemble_gain_gets_a_paired_bootstrap_interval() -> None:
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 2, 400)
    noisy = []
    for seed in range(3):  # each member right on ~70 % of rows, wrong on different ones
        r = np.random.default_rng(seed + 1)
        right = r.random(400) < 0.7
        p = np.where(right, 0.8, 0.2)
        p1 = np.where(targets == 1, p, 1 - p)
        noisy.append(np.stack([1 - p1, p1], 1))
    gain = gain_interval(noisy, targets, "classification", "acc")
    lo, hi = gain["over_mean_ci"]
    assert 0 < lo <= gain["over_mean"] <= hi  # majority voting of independent errors helps
    assert "bootstrap" in gain["method"]
    same = gain_interval([noisy[0]] * 3, targets, "classification", "acc")
    assert same["over_mean"] == 0.0 and same["over_mean_ci"] == [0.0, 0.0]
    loss = gain_interval(noisy, targets, "classification", "loss")
    assert loss["over_mean_ci"][0] <= loss["over_mean"] <= loss["over_mean_ci"][1]


# -- train.monitor = "auto" -----------------------------------------------------------------


def test_auto_monitors_macro_f1_only_where_the_labels_are_long_tailed() -> None:
    from tuirecipe.monitor import resolve_monitor

    tailed, note = resolve_monitor("auto", "classification", [900, 60, 20])
    assert tailed == Monitor("macro_f1", "max") and "45x" in note and "train.monitor" in note
    assert resolve_monitor("auto", "classification", [100, 90, 80]) == (Monitor(), "")
    # an empty class does not count; 100 against 11 is under 10x
    assert resolve_monitor("auto", "classification", [100, 0, 11]) == (Monitor(), "")
    assert resolve_monitor("auto", "regression", []) == (Monitor(), "")
    assert resolve_monitor("dev.acc", "classification", [900, 20])[0] == Monitor("acc", "max")


def test_a_long_tailed_run_keeps_its_best_by_macro_f1_and_says_why(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for label, count, word in (
        ("common", 400, "alpha"),
        ("rare", 24, "omega"),
        ("odd", 20, "zeta"),
    ):
        for i in range(count):
            filler = " ".join(rng.choice(["x", "y", "z", "w"], size=4))
            rows.append(f"{word} {filler} {i},{label}")
    (tmp_path / "tail.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = load_config(
        None,
        [
            f"runs_dir={tmp_path / 'runs'}",
            f"data.path={tmp_path / 'tail.csv'}",
            "model.name=fasttext",
            "train.max_steps=30",
            "train.eval_every=10",
        ],
    )
    assert config.train.monitor == "auto"  # the default
    ctx, trainer, _, evals = train(config)
    assert trainer.monitor == Monitor("macro_f1", "max")
    notes = [e.message for e in ctx.events if isinstance(e, Log)]
    assert any(n.startswith("long-tailed labels (the largest class has 20x") for n in notes)
    recorded = ctx.run.read_meta()["checkpoint"]
    assert recorded["monitor"] == "dev.macro_f1"
    best = max(evals, key=lambda s: (evals[s]["macro_f1"], -s))
    assert recorded["step"] == best
    assert kept_dev_eval(ctx.run).monitor == Monitor("macro_f1", "max")  # listed alike
