"""The events a job writes to ``events.jsonl`` and the console reads back.

Each event is a small frozen dataclass of plain values (never tensors) with a stable JSON
form: ``{"t": <unix time>, "type": "<kind>", ...fields}``. ``to_json`` / ``from_json``
round-trip; an unknown ``type`` read back becomes :class:`Unknown` so an older console can
follow a newer worker's run.

The lines are strict JSON, which has no NaN or infinity: a loss that diverged is written
as ``null`` where the number would be, and the event's ``"nonfinite"`` member maps the
place (a JSON Pointer, RFC 6901) to ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``. Other
tools read a missing number; :func:`from_dict` puts the float back.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
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
        body = self.to_dict()
        try:
            return json.dumps(body, separators=(",", ":"), allow_nan=False)
        except ValueError:  # a NaN or an infinity somewhere: null, and where it was
            places: dict[str, str] = {}
            clean = _without_nonfinite(body, "", places)
            clean[NONFINITE_KEY] = places
            return json.dumps(clean, separators=(",", ":"), allow_nan=False)


NONFINITE_KEY = "nonfinite"
_NONFINITE_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def finite_or_null(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None: for JSON meant for other
    tools (``tuirecipe runs --json``), where a missing number is the honest reading."""
    return _without_nonfinite(value, "", {})


def _pointer_part(key: object) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _without_nonfinite(value: Any, where: str, places: dict[str, str]) -> Any:
    """``value`` with each non-finite float replaced by None, noting in ``places`` its
    JSON Pointer and its word ("NaN", "Infinity", "-Infinity")."""
    if isinstance(value, float) and not math.isfinite(value):
        places[where] = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
        return None
    if isinstance(value, dict):
        return {
            k: _without_nonfinite(v, f"{where}/{_pointer_part(k)}", places)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_without_nonfinite(v, f"{where}/{i}", places) for i, v in enumerate(value)]
    return value


def _restore_nonfinite(data: dict[str, Any]) -> dict[str, Any]:
    """Put back the floats :meth:`Event.to_json` wrote as null (a damaged map is ignored,
    as are places that do not lead to a null)."""
    places = data.pop(NONFINITE_KEY, None)
    if not isinstance(places, dict):
        return data
    for pointer, word in places.items():
        number = _NONFINITE_WORDS.get(word) if isinstance(word, str) else None
        if number is None or not isinstance(pointer, str) or not pointer.startswith("/"):
            continue
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]
        parent: Any = data
        try:
            for part in parts[:-1]:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            last: Any = int(parts[-1]) if isinstance(parent, list) else parts[-1]
            if parent[last] is None:
                parent[last] = number
        except (KeyError, IndexError, ValueError, TypeError):
            continue
    return data


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
    tokens: int = 0  # non-padding tokens trained on so far (0: not recorded)


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
class TrackedMetrics(Event):
    """Figures a tracked run (:mod:`tuirecipe.track`) logged under names that are neither a
    train step's (loss, acc, lr) nor an evaluation's: kept as logged, by name."""

    kind: ClassVar[str] = "metrics"
    step: int
    values: dict[str, float] = field(default_factory=dict)


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
class Resumed(Event):
    """Training continued from a checkpoint taken after optimizer step ``step``
    (``tuirecipe resume``). Step, eval and predictions events written earlier for later
    steps (by the worker that died or stopped after the checkpoint) are superseded: readers
    drop them (:func:`drop_superseded`), so the run shows one curve."""

    kind: ClassVar[str] = "resumed"
    step: int
    epoch: float = 0.0
    checkpoint: str = "resume.pt"
    message: str = ""


# Events tied to a training step that a later ``resumed`` event can supersede.
SUPERSEDABLE = ("step", "eval", "predictions")


def drop_superseded(events: list[Event]) -> list[Event]:
    """``events`` without the step, eval and predictions events that a later
    :class:`Resumed` supersedes (their step is past the checkpoint it resumed from)."""
    if not any(isinstance(e, Resumed) for e in events):
        return events
    keep: list[Event] = []
    limit = math.inf
    for event in reversed(events):
        if isinstance(event, Resumed):
            limit = min(limit, event.step)
        elif event.kind in SUPERSEDABLE and getattr(event, "step", -1) > limit:
            continue
        keep.append(event)
    keep.reverse()
    return keep


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
        TrackedMetrics,
        Log,
        Error,
        Resumed,
    )
}


def from_dict(data: Any) -> Event:
    """The event a decoded line holds. A value that is not an event object (a number,
    ``null``, a list, a string: a damaged line) raises ``ValueError``, which readers of
    ``events.jsonl`` treat as a line to skip."""
    if not isinstance(data, dict):
        raise ValueError(f"an event line must be a JSON object, not {type(data).__name__}")
    if NONFINITE_KEY in data:
        data = _restore_nonfinite(copy.deepcopy(data))
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
