"""The events a job writes to ``events.jsonl`` and the console reads back.

Each event is a small frozen dataclass of plain values (never tensors) with a stable JSON
form: ``{"t": <unix time>, "type": "<kind>", ...fields}``. ``to_json`` / ``from_json``
round-trip; an unknown ``type`` read back becomes :class:`Unknown` so an older console can
follow a newer worker's run.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    t: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "t"}
        return {"t": self.t, "type": self.kind, **body}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=True)


@dataclass(frozen=True)
class RunStatus(Event):
    """The run changed state: created, running, paused, finished, failed, stopped."""

    kind: ClassVar[str] = "status"
    state: str
    message: str = ""
    step: int = 0


@dataclass(frozen=True)
class StepMetrics(Event):
    """One optimisation step. ``acc`` is None for regression."""

    kind: ClassVar[str] = "step"
    step: int
    epoch: float
    loss: float
    lr: float
    acc: float | None = None
    examples: int = 0  # examples seen so far
    elapsed: float = 0.0  # seconds of training so far (pauses excluded)


@dataclass(frozen=True)
class EvalMetrics(Event):
    """A full evaluation on the dev set: metric values and 95 % confidence intervals."""

    kind: ClassVar[str] = "eval"
    step: int
    epoch: float
    split: str  # "dev" usually
    metrics: dict[str, float]  # loss, acc  | loss, mse, mae
    ci: dict[str, list[float]] = field(default_factory=dict)  # metric -> [low, high]
    n: int = 0
    # classification: class id -> {precision, recall, f1, support, ci: {…}}
    per_class: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckStarted(Event):
    kind: ClassVar[str] = "check_started"
    name: str


@dataclass(frozen=True)
class CheckProgress(Event):
    kind: ClassVar[str] = "check_progress"
    name: str
    fraction: float
    message: str = ""


@dataclass(frozen=True)
class CheckResult(Event):
    """A sanity check's outcome: status is pass, warn, fail, error or stopped.

    ``fingerprint``, ``ran_on`` and ``inputs`` say what the verdict was made for
    (:mod:`tuirecipe.checks.fingerprint`): a hash of the data, model and settings it
    checked, those in words ("model textcnn, data trec.csv"), and their plain values.
    Results recorded before fingerprints existed read back with these empty.
    """

    kind: ClassVar[str] = "check_result"
    name: str
    status: str
    summary: str
    numbers: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    fingerprint: str = ""
    ran_on: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictionsSnapshot(Event):
    """Predictions on a fixed set of dev examples at one evaluation."""

    kind: ClassVar[str] = "predictions"
    step: int
    rows: list[dict[str, Any]]  # {"index", "text", "label", "pred", "prob"}


@dataclass(frozen=True)
class Log(Event):
    kind: ClassVar[str] = "log"
    message: str
    level: str = "info"  # info | warning


@dataclass(frozen=True)
class Error(Event):
    """A failure: a one-line message for people and the tail of the traceback."""

    kind: ClassVar[str] = "error"
    message: str
    traceback: str = ""
    step: int | None = None
    user_error: bool = False


@dataclass(frozen=True)
class Unknown(Event):
    kind: ClassVar[str] = "unknown"
    data: dict[str, Any] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStatus,
        StepMetrics,
        EvalMetrics,
        CheckStarted,
        CheckProgress,
        CheckResult,
        PredictionsSnapshot,
        Log,
        Error,
    )
}


def from_dict(data: Any) -> Event:
    """The event a decoded line holds. A value that is not an event object (a number,
    ``null``, a list, a string: a damaged line) raises ``ValueError``, which readers of
    ``events.jsonl`` treat as a line to skip."""
    if not isinstance(data, dict):
        raise ValueError(f"an event line must be a JSON object, not {type(data).__name__}")
    t = data.get("t", 0.0)
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise ValueError(f"an event's time must be a number, not {t!r}")
    kind = data.get("type", "")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return Unknown(data=data, t=float(t))
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    try:
        return cls(**kwargs)
    except TypeError:
        return Unknown(data=data, t=float(t))


def from_json(line: str) -> Event:
    return from_dict(json.loads(line))
