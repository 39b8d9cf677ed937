"""Errors that are the user's to fix: bad config, bad data, bad model code.

Each carries enough context (file, key, row) to be shown as one line. The CLI prints
``str(error)`` and exits with code 2; the console shows it as a notification. Anything
that is *not* a ``UserError`` is our bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem in something the user gave us; ``str()`` is the one-line message."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        key: str | None = None,
        row: int | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.key = key
        self.row = row
        super().__init__(self.one_line())

    def __str__(self) -> str:
        # Built on demand, so a caller that learns the file later (e.g. the worker knows
        # the user's config file) can set ``source`` and the message follows.
        return self.one_line()

    def one_line(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.key:
            where.append(f"key '{self.key}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class ConfigError(UserError):
    """The config file or a ``--set`` override is wrong."""


class DataError(UserError):
    """The data file cannot be read or has no usable rows."""


class ModelError(UserError):
    """The user's model cannot be imported, built or run."""


class RunError(UserError):
    """A run directory or run id is wrong (missing, escaping the runs directory, …)."""


class StorageError(UserError, OSError):
    """A file could not be written for a reason outside tuirecipe and outside the user's
    inputs as such: the disk is full, a quota is used up, the file system is read-only, or
    a run file is a symbolic link (run files are never written through one). ``source``
    names the file. Also an ``OSError``, so code that handles failed writes still does."""
