"""From a config to model-ready arrays: load, split, build the vocabulary, encode.

:func:`prepare_data` is what a training or check job calls first. The vocabulary and the
label set come from the training split only, so nothing about dev leaks into training.
The result is deterministic for a config and seed. Targets are class ids (int64) for
classification and raw float32 values for regression (with the training split's mean and
standard deviation alongside, for a model that wants to standardise them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuirecipe.config import Config, DataConfig
from tuirecipe.data.demo import ensure_demo_file
from tuirecipe.data.loading import LoadReport, load_table
from tuirecipe.data.splits import split_group_codes, stratified_split
from tuirecipe.data.tokenize import Vocab, encode_texts
from tuirecipe.errors import DataError


@dataclass
class Split:
    ids: np.ndarray  # int64 [N, L], padded with 0
    lengths: np.ndarray  # int64 [N], after truncation to max_len
    targets: np.ndarray  # int64 class ids or float32 values
    texts: list[str]
    rows: np.ndarray  # source row numbers, to point a user at the file
    truncated: int
    unk_rate: float

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class PreparedData:
    task: str
    train: Split
    dev: Split
    vocab: Any  # a Vocab, or a pretrained encoder's EncoderVocab
    label_names: list[str]  # class id → label string, sorted; [] for regression
    report: LoadReport
    dev_report: LoadReport | None
    target_mean: float
    target_std: float
    class_counts: list[int]  # training examples per class id; [] for regression
    max_len: int
    split_groups: str = "case_space"  # data.split_groups the split was made with

    @property
    def num_outputs(self) -> int:
        return len(self.label_names) if self.task == "classification" else 1

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the data of a run (written to ``meta.json``)."""
        out: dict[str, Any] = {
            "path": self.report.path,
            "sha256": self.report.sha256,
            "rows": self.report.rows_used,
            "rows_read": self.report.rows_read,
            "split_groups": self.split_groups,
        }
        if self.dev_report is not None:
            out["dev_path"] = self.dev_report.path
            out["dev_sha256"] = self.dev_report.sha256
            out["dev_rows"] = self.dev_report.rows_used
        return out


def resolve_data_path(config: Config) -> Path:
    """The file behind ``data.path``; a demo source is written to the cache first.

    ``"demo"`` follows ``data.task`` (the regression demo for a regression task).
    """
    data = config.data
    if not data.is_demo:
        return config.resolve_path(data.path)
    task = data.path.partition(":")[2] or data.task
    if task != data.task:
        raise DataError(
            f"'{data.path}' is a {task} dataset but data.task is '{data.task}'",
            source=config.source,
            key="data.task",
        )
    return ensure_demo_file(task)


def build_vocab(config: Config, texts: Any) -> Any:
    """The word vocabulary of the training ``texts``, or, for ``model.name = "pretrained"``,
    the encoder's own tokenizer (:class:`~tuirecipe.data.encoder_vocab.EncoderVocab`)."""
    cfg = config.data
    if config.model.name == "pretrained":
        from tuirecipe.data.encoder_vocab import EncoderVocab, check_max_len
        from tuirecipe.data.encoders import inspect_folder

        folder = inspect_folder(
            config.resolve_path(config.model.encoder), key="model.encoder", source=config.source
        )
        vocab = EncoderVocab(folder, key="model.encoder", source=config.source)
        check_max_len(vocab, cfg.max_len, config.source)
        return vocab
    return Vocab.build(
        texts, lowercase=cfg.lowercase, min_freq=cfg.min_freq, max_size=cfg.max_vocab
    )


def _split(frame: pd.DataFrame, targets: np.ndarray, vocab: Any, max_len: int) -> Split:
    texts = frame["text"].tolist()
    encoded = encode_texts(vocab, texts, max_len)
    return Split(
        ids=encoded.ids,
        lengths=encoded.lengths,
        targets=targets,
        texts=texts,
        rows=frame["row"].to_numpy(dtype=np.int64),
        truncated=encoded.truncated,
        unk_rate=encoded.unk_rate,
    )


def _empty_dev_error(frame: pd.DataFrame, cfg: DataConfig, seed: int, path: Path) -> DataError:
    """Why a seeded split left dev empty: too few rows, no class with two examples, or
    copies of too few texts to keep apart."""
    n, task = len(frame), cfg.task
    if cfg.split_groups != "none":
        rows_apart = stratified_split(frame["label"].to_numpy(), cfg.dev_fraction, seed, task)
        if len(rows_apart[1]):
            return DataError(
                f"cannot split off a dev set: its {n} rows are copies of too few distinct "
                f"texts to keep each text's copies on one side (data.split_groups = "
                f"'{cfg.split_groups}'); add rows, give a dev file in data.dev_path, or set "
                "data.split_groups = 'none'",
                source=str(path),
                key="data.split_groups",
            )
    if task == "classification" and n >= 10 and frame["label"].nunique() == n:
        numeric = pd.to_numeric(frame["label"], errors="coerce").notna().all()
        hint = (
            "the labels look like numbers: for a numeric target set data.task = 'regression'"
            if numeric
            else "is data.label_column the right column?"
        )
        return DataError(
            f"cannot split off a dev set: all {n} labels are different, so no "
            f"class has two examples ({hint})",
            source=str(path),
            key="data.task" if numeric else "data.label_column",
        )
    return DataError(
        f"is too small to split off a dev set ({n} usable rows); add rows or "
        "give a dev file in data.dev_path",
        source=str(path),
        key="data.dev_fraction",
    )


def prepare_data(config: Config, *, augment: bool = True) -> PreparedData:
    """Load ``data.path`` (and ``data.dev_path``), split, build the vocabulary, encode.

    With ``[augment] enabled`` (and ``augment`` true), the training split gets its
    augmented copies after the vocabulary is built from the original texts, so the
    augmentation never adds words to the vocabulary. Cross-validation passes
    ``augment=False`` and augments each fold's training part itself.
    """
    cfg = config.data
    path = resolve_data_path(config)
    loaded = load_table(path, cfg)
    dev_report: LoadReport | None = None
    if cfg.dev_path:
        dev_path = config.resolve_path(cfg.dev_path)
        dev_loaded = load_table(dev_path, cfg, key="data.dev_path", require_classes=False)
        train_frame, dev_frame = loaded.frame, dev_loaded.frame
        dev_report = dev_loaded.report
        dev_source = str(dev_path)
    else:
        frame = loaded.frame
        train_idx, dev_idx = stratified_split(
            frame["label"].to_numpy(),
            cfg.dev_fraction,
            config.seed,
            cfg.task,
            groups=split_group_codes(frame["text"], cfg.split_groups),
        )
        if len(dev_idx) == 0:
            raise _empty_dev_error(frame, cfg, config.seed, path)
        train_frame = frame.iloc[train_idx].reset_index(drop=True)
        dev_frame = frame.iloc[dev_idx].reset_index(drop=True)
        dev_source = str(path)

    vocab = build_vocab(config, train_frame["text"])
    if cfg.task == "classification":
        label_names = sorted(train_frame["label"].unique().tolist())
        index = {name: i for i, name in enumerate(label_names)}
        unseen = sorted(set(dev_frame["label"]) - set(index))
        if unseen:
            shown = ", ".join(repr(u) for u in unseen[:10])
            more = f" and {len(unseen) - 10} more" if len(unseen) > 10 else ""
            raise DataError(
                f"has labels that the training data does not: {shown}{more}",
                source=dev_source,
                key="data.label_column",
            )
        train_y = train_frame["label"].map(index).to_numpy(dtype=np.int64)
        dev_y = dev_frame["label"].map(index).to_numpy(dtype=np.int64)
        counts = np.bincount(train_y, minlength=len(label_names)).tolist()
        mean, std = 0.0, 1.0
    else:
        label_names, counts = [], []
        train_y = train_frame["label"].to_numpy(dtype=np.float32)
        dev_y = dev_frame["label"].to_numpy(dtype=np.float32)
        mean = float(train_y.mean())
        std = float(train_y.std()) or 1.0  # a constant target still standardises safely

    train = _split(train_frame, train_y, vocab, cfg.max_len)
    if augment and config.augment.enabled:
        from tuirecipe.data.augment import augment_split

        train = augment_split(train, vocab, config.augment, config.seed, cfg.max_len)
    return PreparedData(
        task=cfg.task,
        train=train,
        dev=_split(dev_frame, dev_y, vocab, cfg.max_len),
        vocab=vocab,
        label_names=label_names,
        report=loaded.report,
        dev_report=dev_report,
        target_mean=mean,
        target_std=std,
        class_counts=counts,
        max_len=cfg.max_len,
        split_groups=cfg.split_groups,
    )
