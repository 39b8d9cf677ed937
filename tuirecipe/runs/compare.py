"""Comparing runs: their configs side by side, and "change one variable at a time".

``compare_configs`` reads each run's ``config.toml`` (as plain TOML, so an old run with a
key since renamed still compares) and returns every key with its value per run, flagging
the keys whose values differ. ``parent_warning`` says when a run changed more than one key
against its parent (``meta.json`` ``changed``). No UI here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from tuirecipe.config import diff_configs, flatten
from tuirecipe.runs.rundir import RunDir

# Keys that differ between runs without being an experimental change: names and where
# things are written, and execution settings (CPU threads, the device, resume checkpoints),
# which decide how fast or safely a run goes, not what it learns.
# train.gpus too: train.batch_size is the batch of a whole step, split between the processes.
IGNORED_KEYS = frozenset(
    {"name", "runs_dir", "train.threads", "train.device", "train.gpus", "train.checkpoint_every"}
)


@dataclass(frozen=True)
class KeyRow:
    key: str
    values: list[Any]  # one per run, None where the run has no such key
    changed: bool


def read_config_table(run: RunDir) -> dict[str, Any]:
    try:
        return tomllib.loads(run.config_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def compare_configs(runs: list[RunDir], only_changed: bool = False) -> list[KeyRow]:
    """Every config key across ``runs`` (sorted), its value in each, and whether they differ."""
    tables = [flatten(read_config_table(run)) for run in runs]
    keys = sorted(set().union(*tables)) if tables else []
    out = []
    for key in keys:
        values = [t.get(key) for t in tables]
        changed = key not in IGNORED_KEYS and any(v != values[0] for v in values[1:])
        if changed or not only_changed:
            out.append(KeyRow(key, values, changed))
    return out


def changed_against_parent(run: RunDir) -> dict[str, Any]:
    """Keys this run changed against its parent: from meta.json, else computed."""
    meta = run.read_meta()
    changed = meta.get("changed")
    if isinstance(changed, dict) and changed:
        return {k: v for k, v in changed.items() if k not in IGNORED_KEYS}
    parent_id = meta.get("parent")
    if not parent_id:
        return {}
    parent = RunDir(run.path.parent / parent_id)
    if not parent.config_path.exists():
        return {}
    diff = diff_configs(read_config_table(parent), read_config_table(run))
    return {k: list(v) for k, v in diff.items() if k not in IGNORED_KEYS}


def parent_warning(run: RunDir) -> str | None:
    """A warning when ``run`` changed more than one key against its parent."""
    changed = changed_against_parent(run)
    if len(changed) <= 1:
        return None
    parent = run.read_meta().get("parent")
    return (
        f"{run.id} changes {len(changed)} keys against its parent {parent} "
        f"({', '.join(sorted(changed))}): change one variable at a time, or a "
        "difference in the curves cannot be put down to one of them"
    )


def change_summary(run: RunDir) -> str:
    """``"train.lr 0.001→0.0003"`` for the keys changed against the parent, or ``""``."""
    parts = []
    for key, pair in sorted(changed_against_parent(run).items()):
        old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        parts.append(f"{key} {old}→{new}")
    return ", ".join(parts)


def changed_keys(runs: list[RunDir]) -> list[str]:
    """Config keys whose values differ between ``runs`` (execution settings aside)."""
    return [row.key for row in compare_configs(runs, only_changed=True)]


def change_warning(runs: list[RunDir]) -> str | None:
    """A warning when the compared runs differ in more than one key, whatever their
    lineage (two unrelated runs as much as a run and its parent); ``seed`` counts as a key."""
    keys = changed_keys(runs)
    if len(keys) <= 1:
        return None
    shown = ", ".join(keys[:8]) + (f", … ({len(keys) - 8} more)" if len(keys) > 8 else "")
    return (
        f"the {len(runs)} runs differ in {len(keys)} config keys ({shown}): a difference "
        "in their results cannot be put down to one of them; change one variable at a time"
    )


def compare_warnings(runs: list[RunDir]) -> list[str]:
    """Every warning a comparison of ``runs`` gives (the console and ``tuirecipe compare``):
    a run changed several keys against its parent, and the compared runs differ in several
    keys (left out for a run and its own parent: the first warning already says it)."""
    parents = {run.id: run.read_meta().get("parent") for run in runs}
    warnings = [parent_warning(run) for run in runs]
    pair = len(runs) == 2 and (
        parents[runs[0].id] == runs[1].id or parents[runs[1].id] == runs[0].id
    )
    if len(runs) > 1 and not pair:
        warnings.insert(0, change_warning(runs))
    return [w for w in warnings if w]
