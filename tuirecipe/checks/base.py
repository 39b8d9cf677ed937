"""What a sanity check is, what it gets, and the registry of all of them (DESIGN.md §5).

A check is a small object with a name, the recipe stage it belongs to, a kind (``auto``
checks run in a worker; ``manual`` ones are ticked by a person with a note;
``interactive`` ones need a person at the keyboard, like the human baseline) and
``run(ctx) -> Outcome``. The runner turns outcomes into ``CheckResult`` events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the context holds torch objects; this module stays import-light
    from tuirecipe.checks.context import CheckContext

STAGES: dict[str, str] = {
    "data": "1 · Become one with the data",
    "skeleton": "2 · End-to-end skeleton, dumb baselines",
    "overfit": "3 · Overfit",
    "regularize": "4 · Regularize and tune",
}
# ``stopped``: interrupted before it finished — no verdict, neither a pass nor a failure.
STATUSES = ("pass", "warn", "fail", "error", "stopped")


@dataclass
class Outcome:
    """A check's verdict: ``status`` pass / warn / fail / error and a one-line summary, or
    ``stopped`` when the check was interrupted before it could give one.

    ``numbers`` are the measured values (plain floats/ints/strings); ``evidence`` is what
    the detail view shows (tables, curves as lists, decoded examples), plain JSON values.
    ``advice`` says what to look at when it did not pass.
    """

    status: str
    summary: str
    numbers: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}")


class Check:
    """Base class: subclasses set the class attributes and implement :meth:`run`."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    stage: ClassVar[str] = "skeleton"
    kind: ClassVar[str] = "auto"  # auto | manual | interactive
    description: ClassVar[str] = ""  # what it checks and why, for the detail view
    order: ClassVar[int] = 100  # position within the checklist
    # "training": forward passes run in the run's train.precision (a bf16 loss is another
    # number than an fp32 one); "fp32": the check compares outputs within fp32 tolerances
    # to judge the model's code (leaks, padding), where bf16 rounding would blur a verdict
    precision: ClassVar[str] = "training"

    def run(self, ctx: CheckContext) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError


_REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    """Class decorator adding a check to the registry under its ``name``."""
    if not cls.name or cls.name in _REGISTRY:
        raise ValueError(f"check name {cls.name!r} is empty or taken")
    if cls.stage not in STAGES:
        raise ValueError(f"check {cls.name!r} has unknown stage {cls.stage!r}")
    _REGISTRY[cls.name] = cls
    return cls


def all_checks() -> list[type[Check]]:
    """Every registered check in checklist order (stage, then ``order``)."""
    _load_builtin_checks()
    stages = list(STAGES)
    return sorted(_REGISTRY.values(), key=lambda c: (stages.index(c.stage), c.order, c.name))


def get_check(name: str) -> type[Check]:
    _load_builtin_checks()
    try:
        return _REGISTRY[name]
    except KeyError:
        from tuirecipe.errors import UserError

        names = ", ".join(c.name for c in all_checks())
        raise UserError(f"unknown check '{name}'; the checks are: {names}") from None


def _load_builtin_checks() -> None:
    from tuirecipe.checks import catalog  # noqa: F401 - importing registers the checks


ProgressFn = Callable[[float, str], None]
