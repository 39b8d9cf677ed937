"""Tuning: search spaces, controlled sweeps, random search, seed repeats, cross-validation.

Every trial is an ordinary worker run in its own run directory (so it shows in
``tuirecipe runs`` and can be attached to), recording its parent run and the keys it
changed against it. :mod:`tuirecipe.tune.pool` runs several at once.
"""
