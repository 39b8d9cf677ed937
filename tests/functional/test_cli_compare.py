"""``tuirecipe compare``: config diff, best figures, the one-variable warning whatever the
runs' lineage, and the seed-noise verdict; bad run names are one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuirecipe.cli import main
from tuirecipe.config import config_from_dict
from tuirecipe.events import EvalMetrics
from tuirecipe.runs import EventWriter, RunDir, atomic_write_json, atomic_write_text


def recorded(runs: Path, run_id: str, *, parent: str | None = None, **table) -> RunDir:
    run = RunDir(runs / run_id)
    run.path.mkdir(parents=True)
    config = config_from_dict({"runs_dir": str(runs), **table})
    atomic_write_text(run.config_path, config.to_toml())
    atomic_write_json(run.meta_path, {"id": run_id, "job": "train", "parent": parent})
    writer = EventWriter(run.events_path)
    writer.write(EvalMetrics(step=10, epoch=1.0, split="dev", metrics={"loss": 0.5, "acc": 0.8}))
    writer.close()
    run.write_status(state="finished")
    return run


def compare(runs: Path, *ids: str, capsys) -> tuple[int, dict]:
    code = main(["compare", "--runs-dir", str(runs), "--json", *ids])
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


def test_two_unrelated_runs_differing_in_two_keys_get_the_warning(tmp_path, capsys):
    runs = tmp_path / "runs"
    recorded(runs, "20261130-000001-a", train={"lr": 1e-3})
    recorded(runs, "20261130-000002-b", train={"lr": 3e-3}, model={"dropout": 0.3})
    code, report = compare(runs, "000001-a", "000002-b", capsys=capsys)
    assert code == 0
    assert [k["key"] for k in report["keys"]] == ["model.dropout", "train.lr"]
    assert any("differ in 2 config keys" in w for w in report["warnings"])
    assert report["seed_noise"].startswith("none: the runs differ in 2 keys")
    assert report["runs"][0]["best"]["acc"] == 0.8


def test_a_sweep_pair_differing_in_the_swept_key_gets_no_warning(tmp_path, capsys):
    runs = tmp_path / "runs"
    recorded(runs, "20261130-000000-sweep", train={"lr": 3e-3})
    for i, lr in enumerate((1e-3, 1e-2), 1):
        child = recorded(
            runs, f"20261130-00000{i}-child", parent="20261130-000000-sweep", train={"lr": lr}
        )
        meta = child.read_meta()
        atomic_write_json(child.meta_path, {**meta, "changed": {"train.lr": [3e-3, lr]}})
    code, report = compare(runs, "000001-child", "000002-child", capsys=capsys)
    assert code == 0 and report["warnings"] == [] and report["changed"] == 1
    assert "tuirecipe seeds" in report["seed_noise"]  # one key: a verdict needs replicas


def test_the_table_prints_values_literally(tmp_path, capsys):
    runs = tmp_path / "runs"
    recorded(runs, "20261130-000001-a", data={"path": "d[/]ata/[b]x.csv"})
    recorded(runs, "20261130-000002-b", data={"path": "other.csv"})
    assert main(["compare", "--runs-dir", str(runs), "000001-a", "000002-b"]) == 0
    out = capsys.readouterr().out
    assert "d[/]ata/[b]x.csv" in out and "data.path" in out and "seed noise:" in out


@pytest.mark.parametrize(
    "ids, message",
    [
        (["000001-a"], "at least two runs"),
        (["000001-a", "000001-a"], "named twice"),
        (["000001-a", "nope"], "no run 'nope'"),
    ],
)
def test_bad_run_names_are_one_line_exit_2(tmp_path, capsys, ids, message):
    runs = tmp_path / "runs"
    recorded(runs, "20261130-000001-a")
    assert main(["compare", "--runs-dir", str(runs), *ids]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
