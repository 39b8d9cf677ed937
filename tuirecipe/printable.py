"""Outside text made safe for a terminal: control characters are shown, never sent.

A row, label, path, note or exception message may hold terminal escape sequences
(``"\\x1b[31m"``), a carriage return or a bell. Written raw, the terminal would act on
them: recolour the screen, move the cursor, set the window title, or (OSC 52) write the
clipboard. :func:`printable` replaces every C0 and C1 control character except newline
and tab (and DEL) by its Python escape, so ESC is shown as the four characters ``\\x1b``:
the text stays readable and exact, and nothing in it reaches the terminal as a command.

Brackets, emoji and right-to-left marks are left alone: they are not terminal commands,
and keeping markup (``[b]``, ``[/]``) literal is the renderer's job (Rich ``Text``,
``markup=False``). No Rich here: the core uses this too.
"""

from __future__ import annotations

_KEPT = {"\n", "\t"}
_ESCAPES = {
    code: f"\\x{code:02x}"
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))
    if chr(code) not in _KEPT
}


def printable(text: str) -> str:
    """``text`` with its control characters (but newline and tab) written as ``\\xNN``."""
    return text.translate(_ESCAPES)


def printable_line(text: str) -> str:
    """:func:`printable` for one line of a table or a status: newlines and tabs too."""
    return text.translate(_ESCAPES).replace("\n", "\\n").replace("\t", "\\t")
