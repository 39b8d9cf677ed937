"""One renderer of the dataset profile: ``tuirecipe data`` prints the sections the Data
pane shows, drawn by the same builders (tuirecipe/ui/profile_render.py); ``--json`` keeps
its shape. Plain pytest: the builders are Rich only."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from tuirecipe.cli_report import print_profile
from tuirecipe.config import config_from_dict
from tuirecipe.ui.profile_render import (
    profile_sections,
    render_profile,
    render_section,
    section_label,
)

ROWS = [
    ("great film, loved it", "pos"),
    ("terrible plot and worse acting", "neg"),
    ("great film, loved it", "pos"),
    ("an [b]odd[/b] one", "[red]weird[/red]"),
    ("not good at all", "neg"),
    ("wonderful cast", "pos"),
    ("boring and slow", "neg"),
    ("a real treat", "pos"),
] * 5


def _text(renderable: Any, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "reviews.csv"
    pd.DataFrame(ROWS, columns=["text", "label"]).to_csv(path, index=False)
    return config_from_dict(
        {"runs_dir": str(tmp_path / "runs"), "data": {"path": str(path), "max_len": 16}},
        base_dir=str(tmp_path),
    )


def test_the_cli_prints_every_section_the_pane_shows(config, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert print_profile(config) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert print_profile(config, as_json=True) == 0
    profile = json.loads(capsys.readouterr().out)["profile"]
    sections = profile_sections(profile)
    assert {key for key, _, _ in sections} >= {"size", "labels", "lengths", "duplicates"}
    for key, title, data in sections:
        assert " ".join(section_label(key, title, data).split()) in out, key
        # the body is the pane's own renderable, word for word
        body = " ".join(_text(render_section(key, data), width=98).split())
        assert body[:200] in out, key
    assert "reviews.csv" in out and "40 rows" in out


def test_labels_from_the_data_are_shown_literally(config, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    print_profile(config)
    out = capsys.readouterr().out
    assert "[red]weird[/red]" in out


def test_the_json_output_keeps_its_shape(config, capsys):
    assert print_profile(config, as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"source", "profile"}
    assert set(out["source"]) == {
        "path",
        "sha256",
        "rows",
        "rows_read",
        "skipped",
        "skipped_rows",
        "train_rows",
        "dev_rows",
        "counts",
        "notes",
    }
    assert out["source"]["rows"] == len(ROWS)
    assert {"size", "labels", "lengths", "duplicates", "conflicts"} <= set(out["profile"])


def test_render_profile_has_a_titled_block_per_section():
    profile = {
        "size": {"rows": 10, "train_rows": 8, "dev_rows": 2, "classes": 2},
        "labels": {"counts": {"a": 6, "b": 2}, "imbalance_ratio": 3.0},
        "mystery": {"what": "[i]x[/i]"},
    }
    text = _text(render_profile(profile))
    assert "Size — 10 rows, 2 classes" in text
    assert "Labels (all rows) — imbalance 3.0" in text
    assert "Mystery" in text and "[i]x[/i]" in text


def test_the_cli_profile_does_not_load_textual():
    import subprocess

    code = (
        "import sys, types\n"
        "from tuirecipe.cli_report import _print_profile_tables\n"
        "data = types.SimpleNamespace(path='d.csv', frame=[1, 2], sha256='ab' * 32,"
        " skipped=0, notes=[], counts_line=lambda: '2 rows read: 2 used, 0 skipped')\n"
        "_print_profile_tables(data, {'size': {'rows': 2}, 'labels': {'counts': {'a': 2}}})\n"
        "assert 'rich' in sys.modules and 'textual' not in sys.modules, 'textual loaded'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Size — 2 rows" in result.stdout


def test_split_table_scope_and_skipped_rows_render_literally() -> None:
    from tuirecipe.data.profile import profile_frame

    texts = [f"text {i} [b]" for i in range(40)] + ["same"] * 4
    labels = ["[/]neg", "pos"] * 20 + ["pos"] * 4
    split = np.zeros(44, dtype=np.int8)
    split[[5, 7, 9, 42, 43]] = 1
    frame = pd.DataFrame({"text": texts, "label": labels})
    skipped = [{"row": 9, "line": 12, "reason": "empty text [/]"}]
    profile = profile_frame(frame, split=split, scope="every row of x.csv", skipped=skipped)
    text = _text(render_profile(profile.to_dict()))
    assert "All rows: every row of x.csv" in text
    assert "Each split — train 39 / dev 5" in text
    assert "[/]neg" in text and "empty text [/]" in text
    # the skipped row: its line and, since they differ, its record number
    assert re.search(r"\b12\s+9\s+empty text", text)
    assert "Skipped rows — 1 rows" in text
    same = _text(render_section("leakage", profile.leakage))
    assert "same label in both: 2 dev rows" in same


def test_clusters_show_their_purity_and_example_texts_literally() -> None:
    from tuirecipe.ui.profile_render.findings import render_clusters

    section = {
        "ran": True,
        "k": 2,
        "method": "model embeddings (mean pooling) -> L2 rows -> k-means (seed 0)",
        "purity": 0.9,
        "purity_prior": 0.5,
        "clusters": [
            {
                "id": 0,
                "size": 5,
                "top_terms": ["goal"],
                "examples": [{"row": 7, "text": "[b]x[/b] goal"}],
            },
            {
                "id": 1,
                "size": 5,
                "top_terms": ["bank"],
                "examples": [{"row": 9, "text": "rates up"}],
            },
        ],
    }
    text = _text(render_clusters(section), width=120)
    assert "purity 90.0%" in text and "(the prior's: 50.0%)" in text
    assert "row 7: [b]x[/b] goal" in text and "row 9: rates up" in text
    assert "model embeddings (mean pooling)" in text
    del section["purity"]
    assert "purity" not in _text(render_clusters(section), width=120)
