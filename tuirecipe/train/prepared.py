"""What the trainer needs to know about the data: a typed description of prepared splits.

:class:`TrainingData` is a protocol: ``tuirecipe.data.prepare.PreparedData`` satisfies it,
and so does any object with the same attributes (the tests' synthetic data).
:class:`TrainingSplits` is a plain implementation for callers that recombine splits
(a cross-validation fold, a check's tiny training sample).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class SplitData(Protocol):
    """One split, row-aligned: token ids ``[N, L]`` (padded), targets ``[N]``, the texts,
    and each row's number in the source file (to point a person at it)."""

    @property
    def ids(self) -> np.ndarray: ...
    @property
    def targets(self) -> np.ndarray: ...
    @property
    def texts(self) -> Sequence[Any]: ...
    @property
    def rows(self) -> np.ndarray: ...


class PadVocab(Protocol):
    @property
    def pad_id(self) -> int: ...


class TrainingData(Protocol):
    """The task, the train and dev splits, the padding id, and the label names / counts
    (both empty for regression; ``class_counts`` counts the training split per class id)."""

    @property
    def task(self) -> str: ...
    @property
    def train(self) -> SplitData: ...
    @property
    def dev(self) -> SplitData: ...
    @property
    def vocab(self) -> PadVocab: ...
    @property
    def label_names(self) -> Sequence[str]: ...
    @property
    def class_counts(self) -> Sequence[int]: ...


@dataclass
class TrainingSplits:
    task: str
    train: SplitData
    dev: SplitData
    vocab: PadVocab
    label_names: Sequence[str]
    class_counts: Sequence[int]

    @classmethod
    def of(cls, data: TrainingData, **changes: Any) -> TrainingSplits:
        """``data``'s fields, with ``changes`` (e.g. ``train=``, ``dev=``) replacing some."""
        fields = {f.name: getattr(data, f.name) for f in dataclasses.fields(cls)}
        return cls(**{**fields, **changes})
