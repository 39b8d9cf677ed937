"""Search spaces read from TOML, seeded sampling, and configs with some keys changed.

A space is a ``[space]`` table of dotted config keys, each with one distribution::

    [space]
    "train.lr" = {log_uniform = [1e-4, 1e-2]}
    "model.dropout" = {uniform = [0.0, 0.5]}
    "model.embed_dim" = {choice = [32, 64, 128]}
    "train.batch_size" = {int_range = [16, 64]}     # both ends included

Sampling uses one ``numpy`` generator seeded by the search seed and draws the keys in
sorted order, so the same space and seed always give the same trials.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tuirecipe.config import Config, config_from_dict
from tuirecipe.errors import ConfigError

KINDS = ("log_uniform", "uniform", "int_range", "choice")


@dataclass(frozen=True)
class Dimension:
    key: str
    kind: str
    args: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "uniform":
            lo, hi = self.args
            return float(rng.uniform(lo, hi))
        if self.kind == "log_uniform":
            lo, hi = self.args
            return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        if self.kind == "int_range":
            lo, hi = self.args
            return int(rng.integers(lo, hi + 1))
        return self.args[int(rng.integers(len(self.args)))]

    def contains(self, value: Any) -> bool:
        if self.kind == "choice":
            return value in self.args
        lo, hi = self.args
        return lo <= value <= hi


def _dimension(key: str, spec: Any, source: str) -> Dimension:
    where = f"space.{key}"
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ConfigError(
            f"must be a table with one of {', '.join(KINDS)}, e.g. {{log_uniform = [1e-4, 1e-2]}}",
            source=source,
            key=where,
        )
    ((kind, args),) = spec.items()
    if kind not in KINDS:
        raise ConfigError(
            f"unknown distribution '{kind}'; use one of {', '.join(KINDS)}",
            source=source,
            key=where,
        )
    if not isinstance(args, list) or not args:
        raise ConfigError(f"{kind} needs a non-empty list", source=source, key=where)
    if kind == "choice":
        return Dimension(key, kind, tuple(args))
    numeric = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
    if len(args) != 2 or not numeric or not args[0] <= args[1]:
        raise ConfigError(
            f"{kind} needs [low, high] numbers with low <= high, got {args}",
            source=source,
            key=where,
        )
    if kind == "log_uniform" and args[0] <= 0:
        raise ConfigError("log_uniform needs low > 0", source=source, key=where)
    if kind == "int_range" and not all(isinstance(a, int) for a in args):
        raise ConfigError("int_range needs two integers", source=source, key=where)
    return Dimension(key, kind, tuple(args))


@dataclass(frozen=True)
class Space:
    dimensions: tuple[Dimension, ...]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {d.key: d.sample(rng) for d in self.dimensions}

    def samples(self, n: int, seed: int) -> list[dict[str, Any]]:
        rng = np.random.default_rng(seed)
        return [self.sample(rng) for _ in range(n)]

    def contains(self, values: dict[str, Any]) -> bool:
        return set(values) == {d.key for d in self.dimensions} and all(
            d.contains(values[d.key]) for d in self.dimensions
        )


def parse_space(table: dict[str, Any], source: str = "<space>") -> Space:
    space = table.get("space", table)
    if not isinstance(space, dict) or not space:
        raise ConfigError("has no [space] table of keys to search", source=source)
    return Space(tuple(_dimension(k, v, source) for k, v in sorted(space.items())))


def load_space(path: str | Path) -> Space:
    p = Path(path)
    if not p.is_file():
        raise ConfigError("search space file not found", source=str(path))
    try:
        table = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"is not valid TOML: {exc}", source=str(path))
    return parse_space(table, str(path))


def with_values(config: Config, values: dict[str, Any], source: str = "") -> Config:
    """A copy of ``config`` with dotted keys set and validated (unknown keys rejected)."""
    table = config.to_dict()
    for key, value in values.items():
        node = table
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                raise ConfigError(
                    f"'{part}' is not a config section", source=source or config.source, key=key
                )
            node = child
        node[parts[-1]] = value
    out = config_from_dict(table, source=source or config.source, base_dir=config.base_dir)
    return out


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
