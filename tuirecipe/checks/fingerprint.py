"""What a check result (or a manual tick) was made for: the fingerprint of its inputs.

A verdict belongs to the data, model and settings it checked. :class:`Inputs` holds them
in plain values:

- ``data``: the sha256 of the data file's bytes (and of the dev file's when
  ``data.dev_path`` is set), so a renamed or moved copy of the same file still matches and
  an edited file does not;
- ``model``: the model's name, and for a user model (``"module:function"``) the sha256 of
  the module's source file;
- ``settings``: the config values the check depends on (flattened keys such as
  ``"train.lr"``): the settings that change the prepared data (``data.max_len``, the split
  seed, augmentation…), the ``[model]`` table, and the check's own keys
  (:data:`DEPENDS`).

Paths themselves (``data.path``, ``model.python_path``, ``runs_dir``) are left out: a
run's resolved config spells them differently from the user's, and the file contents
already stand for them.

:class:`CurrentInputs` computes the inputs of every check for one config (the data file
is hashed once, and cached on its size and modification time); ``judge`` compares a
stored fingerprint with it and says in words why a result is stale. Torch-free: the
console calls it too.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirecipe.config import Config, flatten
from tuirecipe.models.catalog import BUILTIN_MODELS

VERSION = 1

# Settings that never change a verdict: where things are written, how often a long run
# logs, evaluates or checkpoints, how many CPU threads it gets, which checks a job runs.
IGNORED_KEYS = frozenset(
    {
        "name",
        "runs_dir",
        "data.path",
        "data.dev_path",
        "model.python_path",
        "train.threads",
        "train.gpus",
        "train.eval_every",
        "train.log_every",
        "train.epochs",
        "train.max_steps",
        "train.early_stopping_patience",
        "train.checkpoint_every",  # resume checkpoints of long runs
        "train.lr_from",  # the checks train at train.lr whatever a run's rate comes from
        "train.label_smoothing",  # the checks' short runs train without it
        "checks.only",
    }
)

# The data settings behind the rows as read from the file.
READ_KEYS = (
    "data.format",
    "data.header",
    "data.text_column",
    "data.label_column",
    "data.task",
    "data.encoding",
)
# ... and those that change the prepared (split, tokenised, augmented) data as well.
PREPARED_KEYS = (
    *READ_KEYS,
    "data.lowercase",
    "data.min_freq",
    "data.max_vocab",
    "data.max_len",
)


@dataclass(frozen=True)
class Depends:
    """What one check's verdict depends on besides the data file's bytes.

    ``keys`` are config key prefixes (``"train"`` is the whole section, ``"train.lr"`` one
    key); ``model`` whether the model counts; ``prepared`` whether the prepared data does
    (the split, vocabulary, truncation, augmentation) or only the rows as read.
    """

    keys: tuple[str, ...] = ("seed", "train", "checks")
    model: bool = True
    prepared: bool = True


# A check absent from this table gets Depends(): the seed, every [train] and [checks]
# setting (minus IGNORED_KEYS), the model and the prepared data. That errs on the side of
# "stale": a check that reads fewer settings is listed here with only those.
DEPENDS: dict[str, Depends] = {
    "initialisation": Depends(keys=("seed",)),
    "init_loss": Depends(
        keys=(
            "seed",
            "train.loss",
            "train.focal_gamma",
            "train.class_weights",
            "train.device",
            "checks.init_loss_tolerance",
        )
    ),
    "input_view": Depends(
        keys=("seed", "train.batch_size", "checks.unk_rate_warn", "checks.truncation_warn"),
        model=False,
    ),
    # Manual ticks: looking at the data is about the rows as read; reading mispredictions
    # is about a model trained on them.
    "looked_at_data": Depends(keys=(), model=False, prepared=False),
    "understood_labels": Depends(keys=(), model=False, prepared=False),
    "read_mispredictions": Depends(keys=("seed", "train")),
    "human_baseline": Depends(keys=("seed", "checks.human_baseline_examples"), model=False),
}
DEPENDS["saliency"] = Depends(keys=("seed", "train", "checks", "checks.saliency_example"))
# Keys read by one check only: the others depend on them only when they list them by name.
_ONLY_LISTED = frozenset({"checks.human_baseline_examples", "checks.saliency_example"})


def depends(name: str) -> Depends:
    return DEPENDS.get(name, Depends())


def _wanted(key: str, dep: Depends) -> bool:
    if key in _ONLY_LISTED:
        return key in dep.keys
    return any(key == prefix or key.startswith(prefix + ".") for prefix in dep.keys)


@dataclass(frozen=True)
class Inputs:
    """The inputs one result was made for, as recorded in its ``check_result`` event."""

    data: str  # sha256 of the data file (+ "/" + the dev file's), "" when unreadable
    data_label: str  # "trec.csv", "demo", "train.csv (dev dev.csv)"
    model: str = ""  # "textcnn", "example_model:build"; "" when the model does not count
    model_source: str = ""  # sha256 of a user model's module file; "" for a built-in
    settings: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """The fingerprint: a sha256 over everything above (and the scheme's version)."""
        body = json.dumps(
            {"v": VERSION, **self.to_dict()}, sort_keys=True, separators=(",", ":"), default=str
        )
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def describe(self) -> str:
        """``"model textcnn, data trec.csv"``: what a person needs to tell results apart."""
        parts = [f"model {self.model}"] if self.model else []
        parts.append(f"data {self.data_label}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "data_label": self.data_label,
            "model": self.model,
            "model_source": self.model_source,
            "settings": dict(self.settings),
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Inputs | None:
        """Read back a stored ``inputs``; None when it is missing or damaged."""
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), str):
            return None
        settings = body.get("settings")
        return cls(
            data=str(body.get("data", "")),
            data_label=str(body.get("data_label", "")),
            model=str(body.get("model", "")),
            model_source=str(body.get("model_source", "")),
            settings=dict(settings) if isinstance(settings, Mapping) else {},
        )


# ---------------------------------------------------------------------------------------
# hashing files


_HASHES: OrderedDict[tuple[str, int, int], str] = OrderedDict()
_HASH_CACHE_SIZE = 32
_HASHES_LOCK = threading.Lock()  # the console computes views in worker threads


def file_digest(path: Path) -> str:
    """sha256 of ``path``'s bytes, remembered while its size and mtime stay the same."""
    resolved = path.resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    with _HASHES_LOCK:
        cached = _HASHES.get(key)
        if cached is not None:
            _HASHES.move_to_end(key)
            return cached
    digest = hashlib.sha256()
    with open(resolved, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _HASHES_LOCK:
        _HASHES[key] = value
        while len(_HASHES) > _HASH_CACHE_SIZE:
            _HASHES.popitem(last=False)
    return value


def _data_digest(config: Config) -> tuple[str, str, str]:
    """``(digest, label, problem)`` of the configured data; problem is "" when readable."""
    data = config.data
    if data.is_demo:
        from tuirecipe.data.demo import demo_csv_bytes

        task = data.path.partition(":")[2] or data.task
        if task not in ("classification", "regression"):
            return "", data.path, f"unknown demo '{data.path}'"
        return hashlib.sha256(demo_csv_bytes(task)).hexdigest(), data.path, ""
    path = config.resolve_path(data.path)
    label = path.name
    try:
        digest = file_digest(path)
    except OSError as exc:
        return "", label, f"data file {path} cannot be read ({exc.strerror or exc})"
    if data.dev_path:
        dev = config.resolve_path(data.dev_path)
        label = f"{label} (dev {dev.name})"
        try:
            digest = f"{digest}/{file_digest(dev)}"
        except OSError as exc:
            return "", label, f"dev file {dev} cannot be read ({exc.strerror or exc})"
    return digest, label, ""


def module_source(config: Config) -> Path | None:
    """The source file of a user model's module, found without importing it.

    Searched in the order the model loader puts them first on ``sys.path``:
    ``model.python_path``, the config's folder, then the rest of ``sys.path``. (Never
    looked up in ``sys.modules``: the console may hold an unrelated module of that name.)
    """
    module = config.model.name.partition(":")[0]
    folders = [config.resolve_path(p) for p in config.model.python_path]
    folders.append(Path(config.base_dir))
    folders += [Path(p) for p in sys.path if p]
    parts = module.split(".")
    for folder in folders:
        stem = folder.joinpath(*parts)
        for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _model_source_digest(config: Config) -> str:
    if config.model.name == "pretrained":  # the encoder folder's files are its source
        from tuirecipe.data.encoders import folder_fingerprint

        folder = config.resolve_path(config.model.encoder)
        try:
            return folder_fingerprint(folder.resolve()) if folder.is_dir() else "not found"
        except OSError:
            return "not readable"
    if config.model.name in BUILTIN_MODELS or ":" not in config.model.name:
        return ""
    source = module_source(config)
    if source is None:
        return "not found"
    try:
        return file_digest(source)
    except OSError:
        return "not readable"


# ---------------------------------------------------------------------------------------
# the inputs of a config, and judging stored results against them


@dataclass(frozen=True)
class Verdict:
    """Whether a stored fingerprint matches the current config, and if not, why."""

    current: bool
    reason: str = ""  # "ran on model textcnn, data trec.csv — rerun"; "" when current


class CurrentInputs:
    """The inputs each check would have under ``config``, computed once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.data, self.data_label, self.problem = _data_digest(config)
        self.model = config.model.name
        self.model_source = _model_source_digest(config)
        self._flat = {k: v for k, v in flatten(config.to_dict()).items() if k not in IGNORED_KEYS}

    def _data_settings(self, dep: Depends) -> dict[str, Any]:
        flat, data = self._flat, self.config.data
        keys = list(PREPARED_KEYS if dep.prepared else READ_KEYS)
        if dep.prepared:
            if not data.dev_path:  # the seeded split; with a dev file there is none
                keys += ["data.dev_fraction", "data.split_groups", "seed"]
            keys.append("augment.enabled")
            if self.config.model.name == "pretrained":  # its tokenizer prepares the data
                keys += ["model.name", "model.encoder"]
            if self.config.augment.enabled:
                keys += [k for k in flat if k.startswith("augment.") and k != "augment.enabled"]
        return {k: flat[k] for k in keys if k in flat}

    def for_check(self, name: str) -> Inputs:
        dep = depends(name)
        settings = self._data_settings(dep)
        if dep.model:
            settings.update({k: v for k, v in self._flat.items() if k.startswith("model.")})
        settings.update({k: v for k, v in self._flat.items() if _wanted(k, dep)})
        return Inputs(
            data=self.data,
            data_label=self.data_label,
            model=self.model if dep.model else "",
            model_source=self.model_source if dep.model else "",
            settings=settings,
        )

    def stamp(self, name: str) -> dict[str, Any]:
        """The fields a result or tick records: ``fingerprint``, ``ran_on`` and ``inputs``."""
        inputs = self.for_check(name)
        return {
            "fingerprint": inputs.digest(),
            "ran_on": inputs.describe(),
            "inputs": inputs.to_dict(),
        }

    def judge(
        self, name: str, record: Mapping[str, Any], *, verb: str = "ran", redo: str = "rerun"
    ) -> Verdict:
        """Is ``record`` (a stored result, tick or human baseline) current for ``name``?

        The reason reads "<verb> on model textcnn, data trec.csv — <redo>": ``verb`` is
        what was done ("ran", "ticked"), ``redo`` what a person does about it.
        """
        fingerprint = record.get("fingerprint")
        stored = Inputs.from_dict(record.get("inputs") or {})
        if not fingerprint or stored is None:
            return Verdict(False, f"{verb} before results were fingerprinted — {redo}")
        if self.problem:
            return Verdict(False, f"{self.problem}: cannot tell whether it still holds")
        now = self.for_check(name)
        if fingerprint == now.digest():
            return Verdict(True)
        return Verdict(False, f"{stale_reason(stored, now, verb=verb)} — {redo}")


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:39] + "…"


def stale_reason(old: Inputs, now: Inputs, *, verb: str = "ran", most: int = 3) -> str:
    """In words, what differs between the inputs a result had and the current ones."""
    ran_on = []
    other_model = bool(old.model) and old.model != now.model
    if other_model:
        ran_on.append(f"model {old.model}")
    if old.data != now.data and old.data_label != now.data_label:
        ran_on.append(f"data {old.data_label}")
    reasons = [f"{verb} on " + ", ".join(ran_on)] if ran_on else []
    if old.data != now.data and old.data_label == now.data_label:
        reasons.append(f"data {old.data_label} has changed since")
    if old.model == now.model and old.model_source != now.model_source:
        reasons.append(f"the source of model {old.model} has changed since")
    keys = sorted(set(old.settings) | set(now.settings))
    changed = [k for k in keys if old.settings.get(k) != now.settings.get(k)]
    if other_model:  # the [model] table of another model is no news
        changed = [k for k in changed if not k.startswith("model.")]
    if changed:
        shown = []
        for key in changed[:most]:
            before = _shown(old.settings[key]) if key in old.settings else "unset"
            after = _shown(now.settings[key]) if key in now.settings else "unset"
            shown.append(f"{key} = {before} (now {after})")
        more = f" and {len(changed) - most} more" if len(changed) > most else ""
        reasons.append(f"{verb} with " + ", ".join(shown) + more)
    if not reasons:  # same inputs in words: the fingerprint scheme itself changed
        reasons.append(f"{verb} with inputs recorded differently by another version")
    return "; ".join(reasons)
