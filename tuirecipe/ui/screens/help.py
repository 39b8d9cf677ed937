"""The ``?`` screen: every key that works where the keyboard is, and the global ones.

Built from the live bindings of the screen it was opened on
(:attr:`textual.screen.Screen.active_bindings`: the focused widget, its pane, the
screen and the App, each key as it would fire), so it cannot go stale when a key is
added or a view hides one. Keys are grouped by the widget that answers them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


@dataclass(frozen=True)
class HelpSection:
    title: str
    keys: list[tuple[str, str]]  # (key as shown, what it does)


def section_title(node: DOMNode) -> str:
    """``HELP_TITLE`` of the widget that owns the keys, else its class name in words."""
    if isinstance(node, App):
        return "Everywhere"
    title = getattr(node, "HELP_TITLE", None)
    if title:
        return str(title)
    if isinstance(node, Screen) and type(node).__module__.startswith("textual."):
        return "Screen"
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", type(node).__name__).capitalize()


def help_sections(screen: Screen) -> list[HelpSection]:
    """The keys of ``screen`` as they stand now, one section per widget that owns some,
    nearest the focused widget first and the App's last."""
    app = screen.app
    by_node: dict[DOMNode, list[tuple[str, str]]] = {}
    for key, active in screen.active_bindings.items():
        binding: Binding = active.binding
        if not binding.description and not binding.show:
            continue  # Textual's own keys without a word (e.g. tab's twins)
        shown = app.get_key_display(Binding(key, binding.action, key_display=binding.key_display))
        by_node.setdefault(active.node, []).append((shown, binding.description or binding.action))
    order = (
        list(screen.focused.ancestors_with_self) if screen.focused is not None else [screen, app]
    )
    nodes = sorted(by_node, key=lambda n: order.index(n) if n in order else len(order))
    return [HelpSection(section_title(n), by_node[n]) for n in nodes]


def render_section(section: HelpSection) -> Text:
    width = max(len(k) for k, _ in section.keys)
    text = Text()
    text.append(section.title + "\n", style="bold")
    for key, what in section.keys:
        text.append(f"  {key:<{width}}  ", style="bold")
        text.append(what + "\n")  # descriptions are ours, but Text keeps [ and ] literal
    return text


class HelpScreen(ModalScreen[None]):
    """The keys of the screen below; Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]
    HELP_TITLE = "Help"

    def __init__(self, sections: list[HelpSection]) -> None:
        super().__init__(classes="prompt")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help-dialog"):
            yield Label("Keys here", classes="dialog-title")
            with VerticalScroll(id="help-keys"):
                for i, section in enumerate(self.sections):
                    yield Static(render_section(section), id=f"help-section-{i}")
            yield Label(
                "Keys differ by pane and view: these are the ones that work where you "
                "were. ctrl+p: all console commands.   esc: close",
                classes="dialog-keys",
            )

    def action_close(self) -> None:
        self.dismiss(None)
