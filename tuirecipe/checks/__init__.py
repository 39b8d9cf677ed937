"""The sanity checks of the recipe: one module per check, a registry, a runner."""

from typing import Any

from tuirecipe.checks.base import STAGES, Check, Outcome, all_checks, get_check, register


def run_model_checks(model: Any, batches: Any, **options: Any) -> list[Any]:
    """The model-level checks on your own ``nn.Module`` and batches (imports torch when
    called): see :func:`tuirecipe.checks.user_model.run_model_checks`."""
    from tuirecipe.checks.user_model import run_model_checks as run

    return run(model, batches, **options)


__all__ = [
    "STAGES",
    "Check",
    "Outcome",
    "all_checks",
    "get_check",
    "register",
    "run_model_checks",
]
