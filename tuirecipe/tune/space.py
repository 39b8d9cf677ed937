"""Search spaces read from TOML, their sampling through Optuna, and configs with some
keys changed.

A space is a ``[space]`` table of dotted config keys, each with one distribution and,
optionally, a condition (a *conditional* space: the key is searched only in trials
where the keys named in ``when`` took those values; elsewhere it keeps the config's)::

    [space]
    "train.lr" = {log_uniform = [1e-4, 1e-2]}
    "model.dropout" = {uniform = [0.0, 0.5]}
    "model.name" = {choice = ["textcnn", "transformer"]}
    "model.num_layers" = {int_range = [1, 4], when = {"model.name" = "transformer"}}

``Space.suggest(trial)`` draws a trial's values with an Optuna trial (TPE, random, …:
the sampler is the study's), conditions first, in a fixed order.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuirecipe.config import Config, config_from_dict
from tuirecipe.errors import ConfigError

KINDS = ("log_uniform", "uniform", "int_range", "choice")
_ABSENT = object()


@dataclass(frozen=True)
class Dimension:
    key: str
    kind: str
    args: tuple[Any, ...]
    # Searched only where every named key took one of the listed values.
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def suggest(self, trial: Any) -> Any:
        """This key's value for an Optuna ``trial`` (the study's sampler decides)."""
        if self.kind == "uniform":
            return trial.suggest_float(self.key, *self.args)
        if self.kind == "log_uniform":
            return trial.suggest_float(self.key, *self.args, log=True)
        if self.kind == "int_range":
            return trial.suggest_int(self.key, *self.args)
        return trial.suggest_categorical(self.key, list(self.args))

    def active(self, values: dict[str, Any]) -> bool:
        return all(values.get(key, _ABSENT) in allowed for key, allowed in self.when)

    def contains(self, value: Any) -> bool:
        if self.kind == "choice":
            return value in self.args
        lo, hi = self.args
        return lo <= value <= hi


def _condition(where: str, when: Any, source: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if not isinstance(when, dict) or not when:
        raise ConfigError(
            'when must be a table of keys and values, e.g. when = {"model.name" = "transformer"}',
            source=source,
            key=where,
        )
    out = []
    for key, value in sorted(when.items()):
        allowed = tuple(value) if isinstance(value, list) else (value,)
        if not allowed:
            raise ConfigError(f"when '{key}' lists no values", source=source, key=where)
        out.append((key, allowed))
    return tuple(out)


def _dimension(key: str, spec: Any, source: str) -> Dimension:
    where = f"space.{key}"
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    if isinstance(spec, dict) and "when" in spec:
        spec = dict(spec)
        when = _condition(where, spec.pop("when"), source)
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
        return Dimension(key, kind, tuple(args), when)
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
    return Dimension(key, kind, tuple(args), when)


@dataclass(frozen=True)
class Space:
    dimensions: tuple[Dimension, ...]  # conditions before the keys that depend on them

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One trial's values: every key whose condition holds, in the space's order."""
        values: dict[str, Any] = {}
        for d in self.dimensions:
            if d.active(values):
                values[d.key] = d.suggest(trial)
        return values

    def contains(self, values: dict[str, Any]) -> bool:
        expected: dict[str, Any] = {}
        for d in self.dimensions:
            if d.active(expected) and d.key in values:
                expected[d.key] = values[d.key]
        return set(values) == set(expected) and all(
            d.contains(values[d.key]) for d in self.dimensions if d.key in values
        )


def _ordered(dimensions: list[Dimension], source: str) -> tuple[Dimension, ...]:
    """Sorted by key, each after the keys its condition names (refused: a condition on a
    key the space does not search, or conditions in a cycle)."""
    keys = {d.key for d in dimensions}
    for d in dimensions:
        for key, _ in d.when:
            if key not in keys:
                raise ConfigError(
                    f"when names '{key}', which the space does not search",
                    source=source,
                    key=f"space.{d.key}",
                )
    done: list[Dimension] = []
    placed: set[str] = set()
    pending = sorted(dimensions, key=lambda d: d.key)
    while pending:
        ready = [d for d in pending if all(key in placed for key, _ in d.when)]
        if not ready:
            raise ConfigError(
                f"the conditions of {', '.join(d.key for d in pending)} depend on each other",
                source=source,
                key="space",
            )
        for d in ready:
            done.append(d)
            placed.add(d.key)
        pending = [d for d in pending if d.key not in placed]
    return tuple(done)


def parse_space(table: dict[str, Any], source: str = "<space>") -> Space:
    space = table.get("space", table)
    if not isinstance(space, dict) or not space:
        raise ConfigError("has no [space] table of keys to search", source=source)
    return Space(_ordered([_dimension(k, v, source) for k, v in space.items()], source))


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
