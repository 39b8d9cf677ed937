"""Helpers for walking the console under ``App.run_test()``: what the footer offers, a
fingerprint of the screen as drawn, waiting for it to settle, backing out of dialogs."""

from __future__ import annotations

import time

from textual.widgets import Input, TextArea

from support.waiting import wait_for

# Where each sub-view is, from anywhere on the main screen: the keys that go there.
SUBVIEWS: dict[str, tuple[str, ...]] = {
    "Data profile": ("1", "p"),
    "Data browse": ("1", "b"),
    "Checks list": ("2",),
    "Train curves": ("3", "g"),
    "Train examples": ("3", "e"),
    "Train bad cases": ("3", "b"),
    "Notes": ("4",),
    "Runs list": ("5",),
}
PANE_OF = {view: f"tab-{pane}" for view, pane in (
    ("Data profile", "data"), ("Data browse", "data"), ("Checks list", "checks"),
    ("Train curves", "train"), ("Train examples", "train"), ("Train bad cases", "train"),
    ("Notes", "notes"), ("Runs list", "runs"),
)}  # fmt: skip


def footer_keys(app) -> list[tuple[str, str]]:
    """The keys the footer shows and offers (enabled) now: ``(key, description)``, as the
    Footer widget picks them (``binding.show``)."""
    return [
        (key, active.binding.description)
        for key, active in app.screen.active_bindings.items()
        if active.binding.show and active.enabled
    ]


def fingerprint(app) -> tuple:
    """The screen as drawn: every cell's text and style, and the screen stack."""
    strips = app.screen._compositor.render_strips()
    cells = tuple(tuple((seg.text, str(seg.style)) for seg in strip) for strip in strips)
    return (len(app.screen_stack), type(app.screen).__name__, cells)


def typing(app) -> bool:
    focused = app.screen.focused
    return isinstance(focused, Input) or (isinstance(focused, TextArea) and not focused.read_only)


def no_blinking(app) -> None:
    """Cursors that blink would change the screen on their own."""
    for box in app.screen.query("Input, TextArea"):
        box.cursor_blink = False


async def settled(pilot, timeout: float = 10.0) -> tuple:
    """The fingerprint once two looks a moment apart agree (timers may still draw)."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    last = fingerprint(app)
    while True:
        await pilot.pause(0.15)  # polling interval, not synchronisation
        now = fingerprint(app)
        if now == last or time.monotonic() > deadline:
            return now
        last = now


async def back_to_main(pilot, where: str) -> None:
    """Esc out of any dialog, and out of a text box: each Esc backs out one level."""
    app = pilot.app
    for _ in range(4):
        if len(app.screen_stack) > 1:
            depth = len(app.screen_stack)
            await pilot.press("escape")
            assert await wait_for(
                pilot,
                lambda depth=depth: len(app.screen_stack) < depth,
                what=f"{where}: Esc to close {type(app.screen).__name__}",
            )
        elif typing(app):
            await pilot.press("escape")
            assert await wait_for(
                pilot, lambda: not typing(app), what=f"{where}: Esc to leave the text box"
            )
        else:
            return


async def go_to(pilot, view: str) -> None:
    app = pilot.app
    await back_to_main(pilot, view)
    await pilot.press(*SUBVIEWS[view])
    tabs = app.query_one("#panes")
    assert await wait_for(
        pilot,
        lambda: (
            tabs.active == PANE_OF[view]
            and app.focused is not None
            and app.query_one(f"#{PANE_OF[view]}") in app.focused.ancestors_with_self
        ),
        what=f"the keyboard in {view}",
    )
    no_blinking(app)


def _clipper(widget, region):
    """The nearest container whose visible area does not hold all of ``region``."""
    compositor = widget.screen._compositor
    for node in widget.ancestors:
        if node is widget.screen or node not in compositor.visible_widgets:
            return node
        _, clip = compositor.visible_widgets[node]
        box = node.scrollable_content_region
        if box.intersection(region) != region:
            return node
    return widget.screen


def _scrolls(node) -> bool:
    styles = node.styles
    return styles.overflow_y in ("auto", "scroll") or styles.overflow_x in ("auto", "scroll")


def overflowing(app) -> list[str]:
    """Text that does not fit its widget, as drawn now. Overflow, concretely, for each
    Static (Label, Static and their kinds) on screen:

    - wrapped text that needs more rows than its box has (lines lost at the bottom);
    - unwrapped text (``text-wrap: nowrap``) wider than its box, unless the box ends it
      with an ellipsis (``text-overflow: ellipsis``);
    - and for any widget: its box cut by the edge of a container that cannot scroll
      (nor the screen), so part of it is never shown.

    A box cut by a container that scrolls is not overflow: what does not fit can be
    scrolled to. Lost rows inside a text's own box are, wherever it is."""
    from textual.geometry import Size
    from textual.widgets import Static

    screen = app.screen
    problems: list[str] = []
    for widget, (region, clip) in screen._compositor.visible_widgets.items():
        if not widget.display or not region.area:
            continue
        name = f"{type(widget).__name__}#{widget.id}" if widget.id else type(widget).__name__
        if clip.intersection(region) != region and not _scrolls(_clipper(widget, region)):
            problems.append(f"{name}: box {region} cut to {clip.intersection(region)}")
            continue
        if not isinstance(widget, Static) or widget.is_container:
            continue
        box = widget.content_region
        if not box.width or not box.height:
            continue
        styles = widget.styles
        if styles.text_wrap == "nowrap":
            wide = widget.get_content_width(Size(100_000, box.height), app.size)
            if wide > box.width and styles.text_overflow != "ellipsis":
                problems.append(f"{name}: {wide} columns of text in {box.width}")
        else:
            tall = widget.get_content_height(Size(box.width, 100_000), app.size, box.width)
            if tall > box.height:
                problems.append(f"{name}: {tall} rows of text in {box.height}")
    return problems


def footer_overflow(app) -> str:
    """ "" when the footer's keys all fit on its one row; else how far they run over."""
    from textual.widgets import Footer

    footers = app.screen.query(Footer)
    if not footers:
        return ""
    footer = footers.first()
    keys = [w for w in footer.children if w.display]
    if not keys:
        return ""
    right = max(w.region.right for w in keys)
    if right > footer.region.right:
        shown = " ".join(str(k) for k, _ in footer_keys(app))
        return f"footer keys end at column {right} of {footer.region.right}: {shown}"
    return ""
