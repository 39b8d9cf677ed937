"""What a console under ``App.run_test()`` shows, as plain text, for assertions.

``screen_text(app)``: the top screen as the terminal would get it, line by line (the
compositor's full update: every visible widget, cropped and overlapped as drawn).
``widget_text(widget)``: one widget's own lines at its current size, even where it is
scrolled or cut off on screen. ``flat(text)``: whitespace runs made one space, so a
string wrapped over lines (at spaces) is still found.
"""

from __future__ import annotations

from textual.app import App
from textual.geometry import Region
from textual.widget import Widget


def screen_text(app: App) -> str:
    # The compositor has no public "render the screen to text"; export_screenshot uses
    # this same call. It renders only: the headless test driver writes nothing.
    update = app.screen._compositor.render_full_update()
    return "\n".join("".join(strip.text for strip in line) for line in update.strips)


def widget_text(widget: Widget) -> str:
    width, height = widget.outer_size  # borders and padding included, as drawn
    if not width or not height:
        return ""
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height)))


def flat(text: str) -> str:
    return " ".join(text.split())


def all_text(widget: Widget) -> str:
    """:func:`widget_text` of ``widget`` and of every widget inside it, top to bottom."""
    parts = [widget_text(widget)]
    parts += [widget_text(child) for child in widget.query("*") if child.display]
    return "\n".join(part for part in parts if part.strip())
