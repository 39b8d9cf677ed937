"""Command palette entries for every console action (ctrl+p)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tuirecipe.ui.app import TuiRecipeApp


class ConsoleCommands(Provider):
    """Pane switches, themes, run control, refresh, save: each one a palette entry."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: TuiRecipeApp = self.app  # type: ignore[assignment]
        out: list[tuple[str, str, Callable[[], object]]] = []
        for number, (pane, title) in enumerate(app.PANES, start=1):
            out.append((f"Show {title} pane", f"key {number}", partial(app.action_show_pane, pane)))
        out += [
            (
                "Start training run",
                "train the current config in a worker (Train pane: s)",
                app.action_start_run,
            ),
            (
                "Stop run",
                "stop the followed run after its current step (Train pane: x)",
                partial(app.action_control_run, "stop"),
            ),
            (
                "Pause run",
                "pause the followed run (Train pane: p)",
                partial(app.action_control_run, "pause"),
            ),
            (
                "Resume run",
                "resume the followed run (Train pane: p)",
                partial(app.action_control_run, "resume"),
            ),
            (
                "Sweep one config key…",
                "one child run per value, e.g. train.lr=1e-4,3e-4,1e-3 (Runs pane: w)",
                app.action_sweep,
            ),
            ("Refresh runs", "re-read the runs directory (Runs pane: r)", app.action_refresh_runs),
            ("Save notes", "write the project log now (Notes pane: ctrl+s)", app.action_save_notes),
        ]
        out += _check_commands(app)
        for name in sorted(app.console_themes):
            out.append(
                (f"Theme: {name}", "switch theme (remembered)", partial(app.action_set_theme, name))
            )
        return out

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)


def _check_commands(app: TuiRecipeApp) -> list[tuple[str, str, Callable[[], object]]]:
    """ "Run all checks" and one "Run check: <title>" per automatic check (Checks pane)."""
    from tuirecipe.checks.base import all_checks

    def run(names: list[str] | None) -> None:
        from tuirecipe.ui.panes.checks import ChecksPane

        app.action_show_pane("checks")
        pane = app.query_one(ChecksPane)
        if names is None:
            pane.action_run_all()
        else:
            pane.run_checks(names)

    out: list[tuple[str, str, Callable[[], object]]] = [
        (
            "Run all checks",
            "every automatic sanity check, in a worker (Checks pane: a)",
            partial(run, None),
        )
    ]
    for check in all_checks():
        if check.kind == "auto":
            out.append(
                (
                    f"Run check: {check.title}",
                    f"{check.name} (Checks pane: r)",
                    partial(run, [check.name]),
                )
            )
    return out
