"""Outside text made into something a widget shows exactly as it is.

Rows, labels, paths, notes, run ids and exception messages are data: a ``[/]`` or ``[b]``
in them is text, not a tag (a ``str`` handed to a DataTable, a ``Static`` or a toast is
parsed as markup: ``[/]`` raised MarkupError, ``[b]`` and ``[CLS]`` vanished), and an
ESC in them must not reach the terminal (:mod:`tuirecipe.printable`).
"""

from __future__ import annotations

from rich.text import Text

from tuirecipe.printable import printable, printable_line


def literal(text: object, style: str = "") -> Text:
    """``text`` as a Rich ``Text``: never markup, control characters shown escaped."""
    return Text(printable(str(text)), style=style)


def literal_line(text: object, style: str = "") -> Text:
    """:func:`literal` for a one-line place (a table cell): newlines shown as ``\\n``."""
    return Text(printable_line(str(text)), style=style)


def editable(text: str) -> str:
    """Notes for a ``TextArea``: control characters shown escaped as in :func:`literal`
    (a TextArea sends them to the terminal raw), Windows line ends kept as they are.

    What the editor holds is what is saved, so notes that held an ESC are written back
    with the four characters ``\\x1b`` once the user edits them (not before: the editors
    save only changed text)."""
    shown = "\r\n".join(printable(part) for part in text.split("\r\n"))
    # a TextArea splits lines at these too (str.splitlines): shown, so they stay text
    return shown.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
