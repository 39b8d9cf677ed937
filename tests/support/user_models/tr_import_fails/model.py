"""A user model whose import fails: it needs a package that is not installed."""

import tuirecipe_test_package_that_does_not_exist  # noqa: F401


def build(spec):
    raise AssertionError("never reached")
