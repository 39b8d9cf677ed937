"""Typed configuration read from TOML, with ``--set section.key=value`` overrides.

Every section is a dataclass with defaults, so an empty file (or no file) is a valid
config that trains the built-in demo. Loading rejects unknown keys, wrong types and
out-of-range values with a :class:`~tuirecipe.errors.ConfigError` naming the file and the
key. The config is data: it is parsed, never executed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirecipe.errors import ConfigError
from tuirecipe.models.catalog import BUILTIN_MODELS, PRETRAINED, unknown_model_message
from tuirecipe.monitor import KEEP_CHOICES, monitor_problem

DEMO_SOURCES = ("demo", "demo:classification", "demo:regression")
# What the dev split and the k folds keep together on one side (tuirecipe.data.splits).
SPLIT_GROUPS = ("case_space", "exact", "none")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


# Upper bounds that keep a typo from harming the machine: torch seeds are signed 64-bit;
# a thread per core is plenty (100,000 threads starved other processes of forks); each
# augmented copy is another copy of the training set in memory.
MAX_SEED = 2**63 - 1
MAX_THREADS = 1024
MAX_GPUS = 64  # processes of one data-parallel run (train.gpus)
MAX_COPIES = 100


@dataclass
class DataConfig:
    # "demo" / "demo:regression" use the generated datasets; anything else is a file path,
    # relative to the config file's folder.
    path: str = "demo"
    format: str = "auto"  # auto | csv | tsv | jsonl | parquet
    header: str = "auto"  # auto | yes | no  (CSV/TSV only)
    text_column: str = "text"
    label_column: str = "label"
    task: str = "classification"  # classification | regression
    encoding: str = "utf-8"  # tried first; on failure a fallback is used and reported
    dev_path: str = ""  # a separate dev file; when empty, dev_fraction of the data
    dev_fraction: float = 0.1
    # Copies of one text stay on one side of the dev split and in one cross-validation
    # fold: "case_space" (equal after lowercasing and collapsing whitespace), "exact"
    # (identical texts), or "none" (rows split one by one, so copies can leak into dev).
    split_groups: str = "case_space"
    lowercase: bool = True
    min_freq: int = 1
    max_vocab: int = 30000
    max_len: int = 128
    # A local pretrained encoder folder (Hugging Face or sentence-transformers format,
    # relative to the config's folder): its sentence embeddings replace TF-IDF as the
    # profile's cluster features. Empty = TF-IDF. Needs the 'encoders' extra.
    encoder: str = ""

    def _validate(self, check: _Checker) -> None:
        check.choice("format", self.format, ("auto", "csv", "tsv", "jsonl", "parquet"))
        check.choice("header", self.header, ("auto", "yes", "no"))
        check.choice("task", self.task, ("classification", "regression"))
        check.that("path", bool(self.path.strip()), "must not be empty")
        check.that("text_column", bool(self.text_column), "must not be empty")
        check.that("label_column", bool(self.label_column), "must not be empty")
        check.that(
            "dev_fraction",
            0.0 < self.dev_fraction < 1.0 or bool(self.dev_path),
            f"must be between 0 and 1 (exclusive), got {self.dev_fraction}",
        )
        check.choice("split_groups", self.split_groups, SPLIT_GROUPS)
        check.that("min_freq", self.min_freq >= 1, f"must be at least 1, got {self.min_freq}")
        check.that("max_vocab", self.max_vocab >= 3, f"must be at least 3, got {self.max_vocab}")
        check.that("max_len", self.max_len >= 1, f"must be at least 1, got {self.max_len}")
        try:
            "".encode(self.encoding)
        except LookupError:
            check.fail("encoding", f"unknown encoding '{self.encoding}'")

    @property
    def is_demo(self) -> bool:
        return self.path in DEMO_SOURCES


@dataclass
class ModelConfig:
    # A built-in name (tuirecipe.models.catalog), or "package.module:build" for a user
    # model. A user model may add its own keys to this table; they reach its build(spec)
    # function in spec.options. The defaults below are every built-in's defaults too.
    name: str = "textcnn"
    embed_dim: int = 64
    hidden_dim: int = 128
    num_layers: int = 1
    num_heads: int = 4
    num_filters: int = 64
    kernel_sizes: list[int] = field(default_factory=lambda: [3, 4, 5])
    dropout: float = 0.1
    # Module whose output the embedding-level checks perturb; empty = first nn.Embedding.
    embedding_module: str = ""
    # Extra folders put on sys.path before importing a user model (relative to the config).
    python_path: list[str] = field(default_factory=list)
    # name = "pretrained": the local encoder folder to fine-tune (relative to the config's
    # folder), and whether to freeze it and train only the head (a linear probe).
    encoder: str = ""
    freeze_encoder: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def _validate(self, check: _Checker) -> None:
        is_user = ":" in self.name
        check.that(
            "name",
            is_user or self.name in BUILTIN_MODELS or self.name == PRETRAINED,
            unknown_model_message(self.name),
        )
        if self.name == PRETRAINED:
            check.that(
                "encoder",
                bool(self.encoder.strip()),
                "must name a local encoder folder when model.name is 'pretrained'",
            )
        if is_user:
            module, _, func = self.name.partition(":")
            check.that(
                "name",
                bool(module) and func.isidentifier(),
                f"'{self.name}' is not of the form 'package.module:function'",
            )
        for key in ("embed_dim", "hidden_dim", "num_layers", "num_heads", "num_filters"):
            value = getattr(self, key)
            check.that(key, value >= 1, f"must be at least 1, got {value}")
        check.that(
            "kernel_sizes",
            bool(self.kernel_sizes) and min(self.kernel_sizes) >= 1,
            "must be a non-empty list of positive integers",
        )
        check.that("dropout", 0.0 <= self.dropout < 1.0, f"must be in [0, 1), got {self.dropout}")
        if self.name == "transformer":
            check.that(
                "embed_dim",
                self.embed_dim % self.num_heads == 0,
                f"must be divisible by num_heads ({self.num_heads}), got {self.embed_dim}",
            )


SCHEDULES = ("constant", "linear", "cosine", "one_cycle")
LR_SOURCES = ("config", "range_test")
# train.checkpoint_every as a duration: "10m", "90s", "1.5h" (a bare number counts steps).
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)\s*$")
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def checkpoint_interval(value: int | str) -> tuple[int, float]:
    """``train.checkpoint_every`` as ``(steps, seconds)``, one of them 0 (both 0: off).

    An integer (or a string of digits) counts optimizer steps; ``"10m"``, ``"90s"``,
    ``"1.5h"`` is a wall-clock interval. Raises ``ValueError`` for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"must be 0 (off) or more steps, got {value}")
        return value, 0.0
    text = str(value).strip()
    if text.isdigit():
        return int(text), 0.0
    match = _DURATION_RE.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(
            f'must be a number of steps (e.g. 500) or a duration such as "10m", "90s" '
            f'or "1h", got {value!r}'
        )
    return 0, float(match.group(1)) * _DURATION_UNITS[match.group(2)]


PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # train.precision


@dataclass
class TrainConfig:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    epochs: int = 3
    max_steps: int = 0  # 0 = no limit beyond epochs
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    grad_clip: float = 0.0  # 0 = off; else max global grad norm
    class_weights: bool = False  # weight the loss by inverse class frequency
    eval_every: int = 200  # steps; 0 = only at the end of each epoch
    # read step metrics every N steps (every step is still recorded); 0 = auto: every step
    # on the CPU, in blocks of 50 on an accelerator (reading a loss there waits for it)
    log_every: int = 0
    # Regularisation and long-tail knobs (issue 7).
    # evals in a row without a better monitored figure before stopping; 0 = off
    early_stopping_patience: int = 0
    # The dev metric that picks the best checkpoint, early stopping and ranking
    # (tuirecipe.monitor): auto (dev loss; dev macro-F1 for long-tailed labels), dev.loss,
    # dev.acc, dev.macro_f1 (classification); dev.loss, dev.mse, dev.mae, dev.rmse,
    # dev.spearman (regression).
    monitor: str = "auto"
    keep: str = "best"  # best | last: which checkpoint the run keeps as model.pt and reports
    loss: str = "cross_entropy"  # cross_entropy | focal (classification only)
    focal_gamma: float = 2.0  # focal loss: 0 is plain cross-entropy
    adversarial: str = "none"  # none | fgm | pgd: perturb the embedding output
    adv_epsilon: float = 1.0  # L2 radius of the perturbation, per example
    adv_alpha: float = 0.3  # PGD step size
    adv_steps: int = 3  # PGD steps
    threads: int = 0  # torch CPU threads in the worker; 0 = all cores but one
    # Data-parallel processes (torchrun + DDP, tuirecipe.train.distributed): 0 or 1 = one
    # process; N = one per GPU (NCCL), or with device = "cpu" N CPU processes (gloo).
    # An execution setting, like threads: recorded in meta.json "execution".
    gpus: int = 0
    # constant | linear | cosine: decay of lr to 0 by the last step; one_cycle: torch's
    # OneCycleLR with train.lr as the peak (the warm-up is its rise; 30 % when unset)
    schedule: str = "constant"
    warmup_steps: int = 0  # steps of linear warm-up from near 0 to lr before the schedule
    warmup_fraction: float = 0.0  # … or the warm-up as a share of the run's steps (0-1)
    # micro-batches of batch_size per optimizer step (an effective batch of N x batch_size);
    # eval_every, max_steps, checkpoint_every and step events count optimizer steps
    grad_accum_steps: int = 1
    label_smoothing: float = 0.0  # cross-entropy on training batches only; dev loss is plain
    # resume.pt for `tuirecipe resume`: every N optimizer steps, or a duration "10m"; 0 = off
    checkpoint_every: int | str = 0
    # "range_test": the worker runs the LR range test (checks.lr_*) on a fresh model first
    # and trains at the top of its suggested band instead of train.lr (one_cycle's peak)
    lr_from: str = "config"
    # auto | fp32 | bf16 | fp16: autocast for training, evaluation and checks; auto = bf16
    # on a CUDA GPU with bf16 for a model large enough to gain, else fp32
    # (tuirecipe.train.precision)
    precision: str = "auto"
    compile: bool = False  # torch.compile the model (dynamic shapes); eager where unavailable

    def _validate(self, check: _Checker) -> None:
        check.that(
            "device",
            self.device in ("auto", "cpu", "cuda", "mps")
            or re.fullmatch(r"cuda:\d+", self.device) is not None,
            f"must be auto, cpu, cuda or cuda:N, got '{self.device}'",
        )
        check.that("epochs", self.epochs >= 1, f"must be at least 1, got {self.epochs}")
        check.that("max_steps", self.max_steps >= 0, f"must be 0 or more, got {self.max_steps}")
        check.that("batch_size", self.batch_size >= 1, f"must be at least 1, got {self.batch_size}")
        check.that("lr", self.lr > 0, f"must be greater than 0, got {self.lr}")
        check.that(
            "weight_decay", self.weight_decay >= 0, f"must be 0 or more, got {self.weight_decay}"
        )
        check.that("grad_clip", self.grad_clip >= 0, f"must be 0 or more, got {self.grad_clip}")
        check.that("eval_every", self.eval_every >= 0, f"must be 0 or more, got {self.eval_every}")
        check.that(
            "log_every", self.log_every >= 0, f"must be 0 (auto) or more, got {self.log_every}"
        )
        check.that(
            "early_stopping_patience",
            self.early_stopping_patience >= 0,
            f"must be 0 (off) or more, got {self.early_stopping_patience}",
        )
        check.choice("loss", self.loss, ("cross_entropy", "focal"))
        check.that(
            "focal_gamma", self.focal_gamma >= 0, f"must be 0 or more, got {self.focal_gamma}"
        )
        check.choice("adversarial", self.adversarial, ("none", "fgm", "pgd"))
        check.that(
            "adv_epsilon", self.adv_epsilon > 0, f"must be greater than 0, got {self.adv_epsilon}"
        )
        check.that("adv_alpha", self.adv_alpha > 0, f"must be greater than 0, got {self.adv_alpha}")
        check.that("adv_steps", self.adv_steps >= 1, f"must be at least 1, got {self.adv_steps}")
        check.that(
            "threads",
            0 <= self.threads <= MAX_THREADS,
            f"must be 0 (auto) up to {MAX_THREADS}, got {self.threads}",
        )
        check.that(
            "gpus", 0 <= self.gpus <= MAX_GPUS, f"must be 0 up to {MAX_GPUS}, got {self.gpus}"
        )
        check.choice("schedule", self.schedule, SCHEDULES)
        check.choice("precision", self.precision, PRECISIONS)
        check.choice("keep", self.keep, KEEP_CHOICES)
        check.that(
            "warmup_steps", self.warmup_steps >= 0, f"must be 0 or more, got {self.warmup_steps}"
        )
        check.that(
            "warmup_fraction",
            0.0 <= self.warmup_fraction < 1.0,
            f"must be a share of the steps in [0, 1), got {self.warmup_fraction}",
        )
        check.that(
            "warmup_fraction",
            not (self.warmup_fraction and self.warmup_steps),
            "set warmup_steps or warmup_fraction, not both",
        )
        check.that(
            "grad_accum_steps",
            self.grad_accum_steps >= 1,
            f"must be at least 1, got {self.grad_accum_steps}",
        )
        check.that(
            "label_smoothing",
            0.0 <= self.label_smoothing < 1.0,
            f"must be in [0, 1), got {self.label_smoothing}",
        )
        check.that(
            "label_smoothing",
            not (self.label_smoothing and self.loss == "focal"),
            'applies to loss = "cross_entropy" only, not focal',
        )
        check.choice("lr_from", self.lr_from, LR_SOURCES)
        try:
            checkpoint_interval(self.checkpoint_every)
        except ValueError as exc:
            check.fail("checkpoint_every", str(exc))


@dataclass
class AugmentConfig:
    """Token-level augmentation of the training split, made when the data is prepared.

    Each training example gets ``copies`` augmented copies (labels unchanged), seeded by
    the run seed; dev is never augmented.
    """

    enabled: bool = False
    copies: int = 1  # augmented copies per training example
    p_delete: float = 0.1  # per token: drop it
    p_swap: float = 0.1  # per token: swap it with its right neighbour
    p_insert: float = 0.0  # per token: insert a random in-vocabulary token after it
    p_replace: float = 0.0  # per token: replace it with a random in-vocabulary token

    def _validate(self, check: _Checker) -> None:
        check.that(
            "copies",
            1 <= self.copies <= MAX_COPIES,
            f"must be between 1 and {MAX_COPIES}, got {self.copies}",
        )
        for key in ("p_delete", "p_swap", "p_insert", "p_replace"):
            value = getattr(self, key)
            check.that(key, 0.0 <= value <= 1.0, f"must be between 0 and 1, got {value}")


@dataclass
class ChecksConfig:
    """Thresholds and budgets of the sanity checks (used by the checklist)."""

    steps: int = 60  # training steps of the short runs some checks make
    overfit_examples: int = 16
    overfit_steps: int = 300
    overfit_loss: float = 0.05
    init_loss_tolerance: float = 0.25  # relative distance from the expected init loss
    input_independent_margin: float = 0.05
    lr_min: float = 1e-6
    lr_max: float = 1.0
    lr_steps: int = 100  # ~100 steps, as the established range finders
    human_baseline_examples: int = 20
    unk_rate_warn: float = 0.2  # input view: warn above this share of <unk> tokens
    truncation_warn: float = 0.1  # input view: warn when more rows than this are cut
    loss_decrease_min: float = 0.1  # loss must fall by this share over the short run
    seed_cuda_tolerance: float = 1e-5  # fixed seed on CUDA: max relative loss difference
    saliency_example: int = 0  # dev example whose per-token saliency is shown
    only: list[str] = field(default_factory=list)

    def _validate(self, check: _Checker) -> None:
        for key in (
            "steps",
            "overfit_examples",
            "overfit_steps",
            "lr_steps",
            "human_baseline_examples",
        ):
            value = getattr(self, key)
            check.that(key, value >= 1, f"must be at least 1, got {value}")
        check.that(
            "overfit_loss",
            self.overfit_loss > 0,
            f"must be greater than 0, got {self.overfit_loss}",
        )
        check.that(
            "init_loss_tolerance",
            self.init_loss_tolerance > 0,
            f"must be greater than 0, got {self.init_loss_tolerance}",
        )
        for key in ("unk_rate_warn", "truncation_warn", "loss_decrease_min"):
            value = getattr(self, key)
            check.that(key, 0 <= value <= 1, f"must be between 0 and 1, got {value}")
        check.that(
            "saliency_example",
            self.saliency_example >= 0,
            f"must be 0 or more, got {self.saliency_example}",
        )
        check.that(
            "lr_min",
            0 < self.lr_min < self.lr_max,
            f"must be greater than 0 and below lr_max, got {self.lr_min}",
        )


@dataclass
class Config:
    name: str = "run"  # prefix of run ids
    seed: int = 0
    runs_dir: str = "runs"  # relative to the config file's folder (cwd without a file)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    # Not part of the TOML: where the config came from, for relative paths and messages.
    source: str = field(default="<defaults>", metadata={"internal": True})
    base_dir: str = field(default=".", metadata={"internal": True})

    def _validate(self, check: _Checker) -> None:
        check.that(
            "name",
            _NAME_RE.match(self.name) is not None,
            f"'{self.name}' is not a valid run name (letters, digits, '_', '-', '.'; "
            "no path separators; at most 64 characters)",
        )
        check.that(
            "seed",
            0 <= self.seed <= MAX_SEED,
            f"must be between 0 and {MAX_SEED} (torch's largest seed), got {self.seed}",
        )
        problem = monitor_problem(self.train.monitor, self.data.task)
        check.that("train.monitor", problem is None, problem or "")

    # -- paths ---------------------------------------------------------------------------
    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (Path(self.base_dir) / path)

    @property
    def runs_path(self) -> Path:
        return self.resolve_path(self.runs_dir)

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    def to_toml(self) -> str:
        return dumps_toml(self.to_dict())

    def flat(self) -> dict[str, Any]:
        """``{"train.lr": 0.0003, …}``: the form used for config diffs."""
        return flatten(self.to_dict())


# ---------------------------------------------------------------------------------------
# validation


class _Checker:
    def __init__(self, source: str, section: str) -> None:
        self.source = source
        self.section = section

    def key(self, key: str) -> str:
        return f"{self.section}.{key}" if self.section else key

    def fail(self, key: str, message: str) -> None:
        raise ConfigError(message, source=self.source, key=self.key(key))

    def that(self, key: str, ok: bool, message: str) -> None:
        if not ok:
            self.fail(key, message)

    def choice(self, key: str, value: str, choices: tuple[str, ...]) -> None:
        self.that(key, value in choices, f"must be one of {', '.join(choices)}, got '{value}'")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        (inner,) = typing.get_args(tp)
        plural = {int: "integers", float: "numbers", str: "strings"}.get(inner, "values")
        return f"a list of {plural}"
    if origin is dict:
        return "a table"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(value: Any, tp: Any, source: str, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    wrong = ConfigError(f"must be {_type_name(tp)}, got {value!r}", source=source, key=key)
    if origin is list:
        if not isinstance(value, list):
            raise wrong
        (inner,) = typing.get_args(tp)
        try:
            return [_coerce(v, inner, source, key) for v in value]
        except ConfigError:
            raise wrong from None
    if origin is dict:
        if not isinstance(value, dict):
            raise wrong
        return dict(value)
    if origin in (typing.Union, types.UnionType):  # e.g. int | str: the first that fits
        for option in typing.get_args(tp):
            try:
                return _coerce(value, option, source, key)
            except ConfigError:
                continue
        names = " or ".join(_type_name(t) for t in typing.get_args(tp))
        raise ConfigError(f"must be {names}, got {value!r}", source=source, key=key)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        if not math.isfinite(value):  # TOML has inf and nan; no setting means either
            raise ConfigError(f"must be a finite number, got {value!r}", source=source, key=key)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if tp is str:
        if not isinstance(value, str):
            raise wrong
        return value
    raise TypeError(f"unsupported config type {tp!r}")  # our bug, not the user's


def _build(cls: type, table: dict[str, Any], source: str, section: str) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key, value in table.items():
        dotted = f"{section}.{key}" if section else key
        if key not in known:
            extra[key] = value
            continue
        tp = hints[key]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"must be a table ([{dotted}])", source=source, key=dotted)
            kwargs[key] = _build(tp, value, source, dotted)
        else:
            kwargs[key] = _coerce(value, tp, source, dotted)
    if extra:
        user_model = cls is ModelConfig and ":" in str(table.get("name", ""))
        if user_model:
            kwargs["options"] = {**kwargs.get("options", {}), **extra}
        else:
            key = sorted(extra)[0]
            dotted = f"{section}.{key}" if section else key
            valid = ", ".join(sorted(known))
            raise ConfigError(f"unknown key (valid keys here: {valid})", source=source, key=dotted)
    obj = cls(**kwargs)
    validate = getattr(obj, "_validate", None)
    if validate is not None:
        validate(_Checker(source, section))
    return obj


# ---------------------------------------------------------------------------------------
# overrides


def parse_override(text: str, source: str = "--set") -> tuple[list[str], Any]:
    """``"train.lr=1e-3"`` → ``(["train", "lr"], 0.001)``.

    The value is read as a TOML value when it parses as one (numbers, booleans, lists,
    quoted strings); otherwise it is taken as a bare string, so ``data.path=my.csv`` works.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not all(part.isidentifier() for part in key.split(".")):
        raise ConfigError(f"'{text}' is not of the form section.key=value", source=source)
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def apply_overrides(
    table: dict[str, Any], overrides: list[str], source: str = "--set"
) -> dict[str, Any]:
    for text in overrides:
        path, value = parse_override(text, source)
        node = table
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"'{part}' is not a section", source=source, key=".".join(path))
            node = child
        node[path[-1]] = value
    return table


# ---------------------------------------------------------------------------------------
# loading


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read ``path`` (or only defaults when None), apply overrides, validate everything."""
    overrides = overrides or []
    table: dict[str, Any] = {}
    source = "<defaults>"
    base_dir = Path.cwd()
    if path is not None:
        p = Path(path)
        source = str(path)
        if not p.exists():
            raise ConfigError("config file not found", source=source)
        if p.is_dir():
            raise ConfigError("is a directory, not a config file", source=source)
        if not p.is_file():  # reading a pipe or a device would wait forever
            raise ConfigError("is not a regular file (a pipe or a device?)", source=source)
        try:
            text = p.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not TOML
        except UnicodeDecodeError:
            raise ConfigError("is not a UTF-8 text file (is it a TOML config?)", source=source)
        except OSError as exc:
            raise ConfigError(f"cannot be read: {exc.strerror}", source=source)
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"is not valid TOML: {exc}", source=source)
        base_dir = p.resolve().parent
    if overrides:
        source = f"{source} with --set" if path is not None else "--set"
        table = apply_overrides(table, overrides)
    config = _build(Config, table, source, "")
    config.source = str(path) if path is not None else "<defaults>"
    config.base_dir = str(base_dir)
    return config


def config_from_dict(table: dict[str, Any], source: str = "<dict>", base_dir: str = ".") -> Config:
    config = _build(Config, table, source, "")
    config.source = source
    config.base_dir = base_dir
    return config


def config_with_changes(
    config: Config, changes: str, source: str = "changes"
) -> tuple[Config, dict[str, tuple[Any, Any]]]:
    """``config`` with ``changes`` applied (``"train.lr=3e-4 model.dropout=0.2"``: the
    ``--set`` syntax, several separated by spaces, shell-quoted when a value has one) and
    validated like a config file; with the keys that changed, ``{"train.lr": (old, new)}``.

    Raises :class:`ConfigError` naming ``source`` and the key when a change is not valid.
    """
    import shlex

    try:
        parts = shlex.split(changes)
    except ValueError as exc:  # an unclosed quote
        raise ConfigError(f"cannot be read: {exc}", source=source) from None
    base = config.to_dict()
    table = apply_overrides(config.to_dict(), parts, source)
    changed = config_from_dict(table, source=source, base_dir=config.base_dir)
    changed.source = config.source
    return changed, diff_configs(base, changed.to_dict())


def demo_config(task: str = "classification") -> Config:
    """The config `tuirecipe` uses without a file: the built-in demo dataset."""
    table: dict[str, Any] = {"name": "demo"}
    if task == "regression":
        table["name"] = "demo-regression"
        table["data"] = {"path": "demo:regression", "task": "regression"}
    return config_from_dict(table, source="<demo>", base_dir=str(Path.cwd()))


# ---------------------------------------------------------------------------------------
# plain-data helpers


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {
            f.name: _to_plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not f.metadata.get("internal")
        }
    if isinstance(obj, list):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    return obj


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def diff_configs(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Changed keys between two config dicts: ``{"train.lr": (old, new)}``."""
    a, b = flatten(parent), flatten(child)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def dumps_toml(table: dict[str, Any]) -> str:
    """``table`` as TOML text (tomli-w; the scalars first, then one table per section)."""
    import tomli_w

    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    return tomli_w.dumps({**scalars, **tables})
