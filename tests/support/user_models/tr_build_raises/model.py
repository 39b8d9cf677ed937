"""A user model whose build function raises."""


def build(spec):
    raise ValueError("hidden size must be even")
