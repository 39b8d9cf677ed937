"""Check jobs on a small CSV, as the worker runs them, for the staleness tests (unit and
console): ``write_csv``, ``config`` and ``check_job``."""

from __future__ import annotations

from pathlib import Path

from tuirecipe.checks.runner import run_checks_job
from tuirecipe.config import Config, config_from_dict, load_config
from tuirecipe.runs import RunDir
from tuirecipe.runs.launch import prepare_run
from tuirecipe.worker import JobContext

FAST_CHECKS = ["initialisation", "init_loss"]


def write_csv(path: Path, word: str = "fine") -> None:
    rows = ["text,label"]
    for i in range(40):
        rows.append(f"good great {word} {i},pos")
        rows.append(f"bad awful poor {i},neg")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def config(folder: Path, data: str = "a.csv", model: str = "textcnn", **train) -> Config:
    table = {
        "data": {"path": data, "dev_fraction": 0.25},
        "model": {"name": model, "embed_dim": 16, "num_filters": 8, "hidden_dim": 16},
        "train": {"device": "cpu", "batch_size": 16, **train},
    }
    return config_from_dict(table, source=str(folder / "exp.toml"), base_dir=str(folder))


def check_job(user_config: Config, only: list[str]) -> RunDir:
    """A ``check`` run as the worker makes it: the run's resolved config, the job body,
    the final state."""
    run = prepare_run(user_config, "check", args={"only": only})
    cfg = load_config(run.config_path)
    cfg.source, cfg.base_dir = user_config.source, run.read_meta()["config_dir"]
    ctx = JobContext(run, cfg, {"only": only})
    try:
        ctx.set_state("running")
        ctx.set_state(run_checks_job(ctx))
    finally:
        ctx.writer.close()
    return run
