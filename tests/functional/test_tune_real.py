"""Seed noise and cross-validation on real datasets (sms_spam, trec), end to end.

Small budget on purpose (a fastText-style model, a few epochs, early stopping); the
numbers are printed (``pytest -s``) for comparison with the TF-IDF + logistic regression
baseline (dev accuracy: sms_spam 0.980, trec 0.855).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL_DATA, requires_real_data

pytestmark = [requires_real_data, pytest.mark.slow]

BASELINE = {"sms_spam": 0.980, "trec": 0.855}


def _config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""name = "{name}"
[data]
path = "{REAL_DATA / name / (name + ".csv")}"
text_column = "text"
label_column = "label"
dev_fraction = 0.15
[model]
name = "fasttext"
embed_dim = 64
[train]
epochs = 6
batch_size = 64
lr = 0.01
eval_every = 0
early_stopping_patience = 2
""")
    return path


def _run(*args: str, cwd: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args, "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["sms_spam", "trec"])
def test_seeds_and_cross_validation(name: str, tmp_path: Path) -> None:
    config = _config(tmp_path, name)
    seeds = _run("seeds", str(config), "-k", "3", "--parallel", "2", cwd=tmp_path)
    assert len(seeds["values"]) == 3 and all(r["state"] == "finished" for r in seeds["results"])
    assert seeds["std"] < 0.05
    cv = _run("cv", str(config), "-k", "5", "--parallel", "2", cwd=tmp_path)
    assert cv["members"] == 5 and all(f["state"] == "finished" for f in cv["folds"])
    print(
        f"\n{name}: 3 seeds dev acc {seeds['mean']:.4f} ± {seeds['std']:.4f}; "
        f"5-fold validation acc {cv['validation_mean']:.4f} ± {cv['validation_std']:.4f}; "
        f"held-out single {cv['heldout_single_mean']:.4f} ± {cv['heldout_single_std']:.4f}, "
        f"ensemble {cv['ensemble']['acc']:.4f} (gain {cv['ensemble_gain_over_mean']:+.4f} "
        f"over the mean single, {cv['ensemble_gain_over_best']:+.4f} over the best); "
        f"TF-IDF+LR baseline {BASELINE[name]:.3f}"
    )
    # A reasonable model on these data is well above chance and near the simple baseline.
    assert seeds["mean"] > BASELINE[name] - 0.1
    assert cv["ensemble"]["acc"] >= cv["heldout_single_mean"] - 0.01
