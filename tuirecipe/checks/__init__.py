"""The sanity checks of the recipe: one module per check, a registry, a runner."""

from tuirecipe.checks.base import STAGES, Check, Outcome, all_checks, get_check, register

__all__ = ["STAGES", "Check", "Outcome", "all_checks", "get_check", "register"]
