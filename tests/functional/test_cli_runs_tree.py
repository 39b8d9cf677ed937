"""``tuirecipe runs`` as a tree: children under their parent with the key they changed,
and a job column that tells check runs and tuning parents from training runs."""

from __future__ import annotations

from pathlib import Path

from tuirecipe.cli import main
from tuirecipe.config import config_from_dict
from tuirecipe.runs import RunDir, atomic_write_json, atomic_write_text


def recorded(runs: Path, run_id: str, started: float, job: str = "train", **meta) -> RunDir:
    run = RunDir(runs / run_id)
    run.path.mkdir(parents=True)
    atomic_write_text(run.config_path, config_from_dict({"runs_dir": str(runs)}).to_toml())
    atomic_write_json(run.meta_path, {"id": run_id, "job": job, **meta})
    run.events_path.touch()
    run.write_status(state="finished", started=started, ended=started + 5)
    return run


def test_children_are_listed_under_their_parent_with_the_changed_key(tmp_path, capsys):
    runs = tmp_path / "runs"
    recorded(runs, "20261130-000001-sweep", 1.0, job="sweep")
    recorded(runs, "20261130-000002-lr1", 2.0, parent="20261130-000001-sweep",
             changed={"train.lr": [0.003, 0.001]})  # fmt: skip
    recorded(runs, "20261130-000003-checks", 3.0, job="check")
    recorded(runs, "20261130-000004-lr2", 4.0, parent="20261130-000001-sweep",
             changed={"train.lr": [0.003, 0.01]})  # fmt: skip
    assert main(["runs", "--runs-dir", str(runs)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "20261130" in line]
    order = [next(w for w in line.split() if w.startswith("20261130")) for line in lines]
    assert order == [
        "20261130-000003-checks",
        "20261130-000001-sweep",
        "20261130-000004-lr2",
        "20261130-000002-lr1",
    ]
    assert lines[2].lstrip().startswith("└ 20261130-000004-lr2")
    assert "train.lr 0.003→0.01" in lines[2] and "train.lr 0.003→0.001" in lines[3]
    jobs = [line.split()[1] if not line.lstrip().startswith("└") else line.split()[2]
            for line in lines]  # fmt: skip
    assert jobs == ["check", "sweep", "train", "train"]
