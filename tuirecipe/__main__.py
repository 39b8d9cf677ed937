"""``python -m tuirecipe`` is the ``tuirecipe`` command."""

from tuirecipe.cli import entry

entry()
