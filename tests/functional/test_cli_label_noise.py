"""``tuirecipe data --label-noise``: the estimate in the JSON profile and the printed one,
counted as the core counts it; for regression one line saying it does not apply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.noisy_text import flip, separable

pytest.importorskip("cleanlab")


def tuirecipe(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TUIRECIPE_CACHE": str(cwd / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def test_the_json_profile_carries_the_estimate(tmp_path: Path) -> None:
    texts, truth = separable(40)
    noisy, flipped = flip(truth, 0.08, seed=6)
    pd.DataFrame({"text": texts, "label": noisy}).to_csv(tmp_path / "news.csv", index=False)
    (tmp_path / "config.toml").write_text('[data]\npath = "news.csv"\n')
    result = tuirecipe("data", "config.toml", "--label-noise", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    section = json.loads(result.stdout)["profile"]["label_noise"]
    assert section["rows"] == len(texts) and section["flagged"] >= 0.8 * flipped.sum()
    assert section["scope"].startswith("whole file: every usable row of news.csv")
    lo, hi = section["interval"]
    assert lo < section["rate"] < hi
    printed = tuirecipe("data", "config.toml", "--label-noise", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert f"{section['flagged']} of {len(texts)} rows" in " ".join(printed.stdout.split())
    plain = json.loads(tuirecipe("data", "config.toml", "--json", cwd=tmp_path).stdout)
    assert "label_noise" not in plain["profile"]  # only when asked for


def test_regression_says_it_does_not_apply(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": [f"row {i} words" for i in range(30)], "label": range(30)})
    frame.to_csv(tmp_path / "scores.csv", index=False)
    (tmp_path / "config.toml").write_text('[data]\npath = "scores.csv"\ntask = "regression"\n')
    result = tuirecipe("data", "config.toml", "--label-noise", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    section = json.loads(result.stdout)["profile"]["label_noise"]
    assert section["ran"] is False and section["status"] == "does not apply"
    assert "does not apply to regression" in section["message"]


def test_the_audit_reads_answers_and_marks_the_disagreements(tmp_path: Path) -> None:
    texts, truth = separable(10)
    pd.DataFrame({"text": texts, "label": truth}).to_csv(tmp_path / "news.csv", index=False)
    (tmp_path / "config.toml").write_text('[data]\npath = "news.csv"\n')
    # classes sorted: money, science, sport. Answer "sport" (3) to all, skip one, one typo.
    answers = "s\nnonsense\n" + "3\n" * 5
    result = subprocess.run(
        [sys.executable, "-m", "tuirecipe", "data", "config.toml", "--audit", "6", "--json"],
        cwd=tmp_path,
        input=answers,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TUIRECIPE_CACHE": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr
    audit = json.loads(result.stdout)
    assert (audit["sampled"], audit["answered"], audit["skipped"]) == (6, 5, 1)
    assert "not a label: 'nonsense'" in result.stderr
    wrong = {d["row"] for d in audit["disagreements"]}
    assert all(d["yours"] == "sport" and d["given"] != "sport" for d in audit["disagreements"])
    assert audit["agreed"] == 5 - len(wrong)
    marks = json.loads((tmp_path / "runs" / "data_marks.json").read_text())
    (entry,) = marks["files"].values()
    assert {int(r) for r in entry["marks"]} == wrong


def test_the_child_process_estimate_can_be_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console's path: the estimate in a child process. Cancelled, the child is ended
    and nothing is cached; left alone, it gives the in-process estimate's flags."""
    from tuirecipe.config import config_from_dict
    from tuirecipe.data.label_noise import estimate_label_noise
    from tuirecipe.data.label_noise_run import cached_label_noise, label_noise_for
    from tuirecipe.data.profiling import profile_config

    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    texts, truth = separable(30)
    noisy, _ = flip(truth, 0.1, seed=7)
    pd.DataFrame({"text": texts, "label": noisy}).to_csv(tmp_path / "news.csv", index=False)
    config = config_from_dict(
        {"runs_dir": str(tmp_path / "runs"), "data": {"path": str(tmp_path / "news.csv")}},
        base_dir=str(tmp_path),
    )
    data, profile = profile_config(config)
    polls: list[bool] = []

    def cancel() -> bool:
        polls.append(True)
        return True

    assert label_noise_for(config, data, profile, in_subprocess=True, cancelled=cancel) is None
    assert polls and cached_label_noise(config, data) is None
    noise = label_noise_for(config, data, profile, in_subprocess=True)
    assert noise is not None
    here = estimate_label_noise(
        texts, noisy, seed=config.seed, groups=profile.row_groups[: len(texts)]
    )
    assert noise.issue.tolist() == here.issue.tolist()
    assert cached_label_noise(config, data) is not None


def test_a_cv_run_is_a_probability_source(tmp_path: Path) -> None:
    """``--label-noise-from CV_RUN``: the fold models' own out-of-fold probabilities (each
    training row from the model that held it out, dev rows from all of them) find the
    flips; a run that is not a cv run is one line."""
    texts, truth = separable(60)
    noisy, flipped = flip(truth, 0.08, seed=8)
    pd.DataFrame({"text": texts, "label": noisy}).to_csv(tmp_path / "news.csv", index=False)
    (tmp_path / "config.toml").write_text('[data]\npath = "news.csv"\n')
    trained = tuirecipe(
        "cv",
        "config.toml",
        "--set",
        "model.name=fasttext",
        "--set",
        "train.lr=0.01",
        "--set",
        "train.max_steps=200",
        "-k",
        "2",
        "--parallel",
        "2",
        "--json",
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    parent = json.loads(trained.stdout)["parent"]
    result = tuirecipe("data", "config.toml", "--label-noise-from", parent, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    section = json.loads(result.stdout)["profile"]["label_noise"]
    assert section["source"].startswith(f"tuirecipe cv run {parent} (2 folds)")
    assert section["rows"] == len(texts)
    assert section["flagged"] <= min(20, 2.5 * flipped.sum())  # so every one is listed
    found = {e["row"] for e in section["examples"]}
    assert len(found) == section["flagged"]
    flipped_rows = {int(p) + 2 for p in np.flatnonzero(flipped)}  # line 1 is the header
    assert len(found & flipped_rows) >= 0.7 * len(flipped_rows)
    wrong = tuirecipe("data", "config.toml", "--label-noise-from", "nothing", cwd=tmp_path)
    assert wrong.returncode == 2 and "not a finished cv run" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
