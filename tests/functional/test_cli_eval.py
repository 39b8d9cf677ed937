"""Checkpoints that match the numbers (issue 15, point 1), through the real CLI and worker:
an early-stopped run keeps its best evaluation's weights, every report names that
checkpoint, and ``tuirecipe eval`` reproduces its figures exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuirecipe.runs import RunDir, list_runs

# A high learning rate on the demo, evaluated every 10 steps: the dev loss bottoms out
# and rises again, so early stopping (patience 3) fires after the best evaluation.
OVERSHOOT = [
    *("--set", "seed=5", "--set", "model.name=textcnn", "--set", "model.embed_dim=16"),
    *("--set", "model.num_filters=8", "--set", "train.batch_size=64", "--set", "train.lr=0.05"),
    *("--set", "train.eval_every=10", "--set", "train.max_steps=300"),
    *("--set", "train.early_stopping_patience=3", "--set", "train.threads=1"),
    *("--set", "train.monitor=dev.loss"),  # the demo is long-tailed: auto would pick macro-F1
]


def tuirecipe(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def dev_evals(run: RunDir) -> dict[int, dict]:
    return {
        e.step: {"metrics": e.metrics, "ci": e.ci, "n": e.n}
        for e in run.events()
        if e.kind == "eval" and e.split == "dev"
    }


@pytest.fixture(scope="module")
def early_stopped(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    cwd = tmp_path_factory.mktemp("early")
    result = tuirecipe("train", *OVERSHOOT, "--quiet", cwd=cwd)
    assert result.returncode == 0, result.stderr
    (cwd / "train_stdout.txt").write_text(result.stdout, encoding="utf-8")
    (summary,) = list_runs(cwd / "runs")
    return RunDir(Path(summary.path))


def test_eval_reproduces_the_best_dev_figures_of_an_early_stopped_run(
    early_stopped: RunDir,
) -> None:
    run = early_stopped
    logs = [e.message for e in run.events() if e.kind == "log"]
    assert any(m.startswith("early stopping: dev loss has not improved") for m in logs)
    evals = dev_evals(run)
    best_step = min(evals, key=lambda s: evals[s]["metrics"]["loss"])
    last_step = max(evals)
    assert best_step < last_step  # the constructed case: the best is not the last
    meta = run.read_meta()["checkpoint"]
    assert meta["file"] == "best.pt" and meta["step"] == best_step
    assert meta["last"] == {"file": "last.pt", "step": last_step}
    status = run.read_status()
    assert status["checkpoint"] == "best.pt" and status["checkpoint_step"] == best_step
    model, best, last = [(run.path / f).read_bytes() for f in ("model.pt", "best.pt", "last.pt")]
    assert model == best != last

    result = tuirecipe("eval", str(run.path), "--json", cwd=run.path.parent)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["checkpoint"] == "model.pt" and figures["kept_as"] == "best"
    assert figures["step"] == best_step and figures["split"] == "dev"
    assert figures["metrics"] == evals[best_step]["metrics"]  # exactly, floats and all
    assert figures["ci"] == evals[best_step]["ci"] and figures["n"] == evals[best_step]["n"]
    assert figures["matches_recorded"] is True

    result = tuirecipe("eval", run.id, "--checkpoint", "last", "--json", cwd=run.path.parent.parent)
    assert result.returncode == 0, result.stderr
    at_last = json.loads(result.stdout)
    assert at_last["step"] == last_step and at_last["metrics"] == evals[last_step]["metrics"]
    assert at_last["metrics"] != figures["metrics"]

    text = tuirecipe("eval", run.id, cwd=run.path.parent.parent)
    assert text.returncode == 0, text.stderr
    assert f"best checkpoint) @ step {best_step}, on dev" in text.stdout
    assert f"equals the evaluation recorded at step {best_step}" in text.stdout


def test_train_names_the_kept_checkpoint_in_the_words_the_console_uses(
    early_stopped: RunDir,
) -> None:
    from tuirecipe.runs.listing import kept_dev_eval, kept_sentence

    said = kept_sentence(kept_dev_eval(early_stopped))
    assert said.startswith("kept best @ step ") and "(lowest dev loss)" in said
    printed = (early_stopped.path.parents[1] / "train_stdout.txt").read_text(encoding="utf-8")
    assert " ".join(said.split()) in " ".join(printed.split())  # rich wraps at 80 columns


def test_runs_reports_the_kept_checkpoint_and_its_figures(early_stopped: RunDir) -> None:
    run = early_stopped
    evals = dev_evals(run)
    best_step = run.read_meta()["checkpoint"]["step"]
    (summary,) = list_runs(run.path.parent)
    assert summary.best == evals[best_step]["metrics"] and summary.best_step == best_step
    assert summary.kept_label() == f"best @ step {best_step} (best.pt)"
    listed = tuirecipe("runs", "--runs-dir", str(run.path.parent), cwd=run.path.parent)
    assert listed.returncode == 0 and f"best.pt@{best_step}" in listed.stdout
    predictions = json.loads((run.path / "dev_predictions.json").read_text())
    assert predictions["step"] == best_step  # the bad-cases view shows the kept model


def test_eval_refuses_bad_input_in_one_line(early_stopped: RunDir, tmp_path: Path) -> None:
    runs_dir = str(early_stopped.path.parent)
    unknown = tuirecipe("eval", "no-such-run", "--runs-dir", runs_dir, cwd=tmp_path)
    assert unknown.returncode == 2 and "no run 'no-such-run'" in unknown.stderr
    assert "Traceback" not in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1

    other = tmp_path / "other.csv"
    other.write_text("text,label\nthis is fine,positive\nodd one,sarcastic\n", encoding="utf-8")
    labels = tuirecipe(
        "eval", early_stopped.id, "--runs-dir", runs_dir, "--data", str(other), cwd=tmp_path
    )
    assert labels.returncode == 2 and "Traceback" not in labels.stderr
    assert str(other) in labels.stderr and "'sarcastic'" in labels.stderr
    assert len(labels.stderr.strip().splitlines()) == 1

    copy = tmp_path / "runs" / early_stopped.id
    copy.mkdir(parents=True)
    for name in ("config.toml", "meta.json", "status.json", "vocab.json", "model.pt"):
        (copy / name).write_bytes((early_stopped.path / name).read_bytes())
    missing = tuirecipe("eval", str(copy), "--checkpoint", "best", cwd=tmp_path)
    assert missing.returncode == 2 and "has no best.pt" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_eval_on_a_file_uses_the_runs_labels(early_stopped: RunDir, tmp_path: Path) -> None:
    predictions = json.loads((early_stopped.path / "dev_predictions.json").read_text())
    rows = predictions["rows"][:40]
    path = tmp_path / "some.csv"
    lines = ["text,label"] + [f'"{r["text"].replace(chr(34), "")}",{r["gold"]}' for r in rows]
    lines.append(f",{rows[0]['gold']}")  # an empty text: skipped, as training skips it
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = tuirecipe("eval", str(early_stopped.path), "--data", str(path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["n"] == len(rows) and figures["split"] == str(path)
    assert figures["matches_recorded"] is None  # another file: nothing recorded to match
    assert figures["notes"] == [f"skipped 1 unusable rows of {path} (first: row 42: empty text)"]
    wrong = sum(r["gold"] != r["pred"] for r in rows)
    assert figures["metrics"]["acc"] == pytest.approx(1 - wrong / len(rows))


def test_eval_has_help(tmp_path: Path) -> None:
    result = tuirecipe("eval", "--help", cwd=tmp_path, timeout=30)
    assert result.returncode == 0 and "--checkpoint" in result.stdout
    assert "eval" in tuirecipe("--help", cwd=tmp_path, timeout=30).stdout


def test_search_ranks_by_the_kept_metric_in_its_own_direction(tmp_path: Path) -> None:
    from tuirecipe.tune.search import direction, rank_key

    def row(v: float, metric: str) -> dict:
        return {"trial_state": "complete", "value": v, "direction": direction(metric)}

    mae = sorted((row(v, "mae") for v in (0.3, 0.1, 0.2)), key=rank_key)
    assert [r["value"] for r in mae] == [0.1, 0.2, 0.3]
    assert sorted((row(v, "acc") for v in (0.3, 0.1, 0.2)), key=rank_key)[0]["value"] == 0.3
    space = tmp_path / "space.toml"
    space.write_text('[space]\n"train.lr" = {choice = [0.001]}\n', encoding="utf-8")
    wrong = tuirecipe(
        "search", "--demo", "regression", "--space", str(space), "--metric", "acc", cwd=tmp_path
    )
    assert wrong.returncode == 2 and "--metric acc: a regression run records" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
