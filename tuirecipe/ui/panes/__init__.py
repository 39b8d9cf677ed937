"""The console's panes (Data, Checks, Train, Notes, Runs) and what they share."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Input, TextArea

from tuirecipe.ui.bus import Bus, Message, Subscription

log = logging.getLogger(__name__)


def consume(
    widget: DOMNode, bus: Bus, topics: tuple[str, ...], handler: Callable[[Message], Any]
) -> Subscription:
    """Feed ``widget``'s ``handler`` from ``topics`` until the widget goes away."""
    sub = bus.subscribe(*topics)

    async def loop() -> None:
        try:
            async for message in sub:
                try:
                    result = handler(message)
                    if inspect.isawaitable(result):
                        await result
                except Exception:  # one bad message must not end the subscription
                    log.exception("%s failed on %s", type(widget).__name__, message.topic)
        finally:
            sub.close()

    widget.run_worker(loop(), group="bus", exit_on_error=False)
    return sub


def typing_into(screen: Screen) -> bool:
    """The keyboard is in a text box that takes printable keys (an editor, a search box):
    letters and digits type there, so the keys bound to them are not offered (the footer
    and ``?`` show only what works); Esc leaves the box and gives them back."""
    focused = screen.focused
    if isinstance(focused, Input):
        return True
    return isinstance(focused, TextArea) and not focused.read_only
