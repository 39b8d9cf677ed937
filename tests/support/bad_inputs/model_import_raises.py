"""A user model module whose import fails (a dependency that is not installed)."""

import tuirecipe_no_such_dependency  # noqa: F401


def build(spec):
    raise AssertionError("never reached: the import above fails")
