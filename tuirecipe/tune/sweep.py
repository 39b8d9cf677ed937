"""Controlled experiments: one key, a list of values, one child run per value.

Every child differs from the parent in that key only (recorded in its ``meta.json`` as
``parent`` and ``changed``), so a difference in results is the key's doing — up to the
seed noise that :mod:`tuirecipe.tune.seeds` measures.
"""

from __future__ import annotations

from typing import Any

from tuirecipe.config import Config, parse_override
from tuirecipe.errors import ConfigError
from tuirecipe.runs.launch import prepare_run
from tuirecipe.tune.pool import make_pool
from tuirecipe.tune.records import (
    finish_parent_run,
    make_parent_run,
    parent_guard,
    trial_result,
)
from tuirecipe.tune.space import with_values


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``"train.lr=1e-4,3e-4,1e-3"`` → ``("train.lr", [0.0001, 0.0003, 0.001])``."""
    key, sep, raw = text.partition("=")
    if not sep or not raw.strip():
        raise ConfigError(f"'{text}' is not of the form section.key=v1,v2,…", source="--vary")
    values = [parse_override(f"{key}={part}")[1] for part in raw.split(",") if part.strip()]
    if len(values) < 1:
        raise ConfigError("needs at least one value", source="--vary", key=key.strip())
    return key.strip(), values


def run_sweep(
    config: Config,
    key: str,
    values: list[Any],
    *,
    parallel: int | None = None,
    per_gpu: int = 1,
    motivation: str = "",
) -> dict[str, Any]:
    """Run one child per value; returns ``{"parent", "key", "results": [...]}``."""
    pool = make_pool(parallel, config.train.device, per_gpu)
    children = [with_values(config, {key: v}) for v in values]  # validate all up front
    parent = make_parent_run(config, "sweep", {"key": key, "values": values}, motivation)
    runs = [
        prepare_run(child, "train", parent=parent, motivation=motivation or f"sweep {key} = {v!r}")
        for child, v in zip(children, values)
    ]
    with parent_guard(parent):
        pool.run(runs)
    results = [{"value": v, **trial_result(r)} for v, r in zip(values, runs)]
    summary = {"parent": parent.id, "key": key, "results": results}
    finish_parent_run(parent, summary)
    return summary
