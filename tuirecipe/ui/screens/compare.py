"""Compare runs: their curves overlaid and their configs side by side.

Keys that differ between the runs are highlighted (and listed first); ``a`` shows every
key or only the changed ones. A run that changed more than one key against its parent
gets a warning: change one variable at a time. Escape goes back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from tuirecipe.printable import printable_line
from tuirecipe.runs.compare import KeyRow, compare_configs, compare_warnings
from tuirecipe.runs.curves import RunHistory
from tuirecipe.runs.rundir import RunDir
from tuirecipe.ui.literal import literal
from tuirecipe.ui.themes import theme_style
from tuirecipe.ui.widgets.curves import CurvePlot, short_names


def _value(value: object) -> str:
    # config values quote paths and user options: escapes shown, not sent (cells are Text)
    return "-" if value is None else printable_line(str(value))


class CompareScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("a", "toggle_all", "All keys / changed"),
        Binding("l", "toggle_log", "Log y"),
    ]

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.runs = [RunDir(Path(p)) for p in paths]
        self.rows: list[KeyRow] = []
        self.only_changed = True
        self.warnings: list[str] = []
        self.seed_noise = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="compare"):
            yield Label(
                literal("Comparing " + ", ".join(r.id for r in self.runs)), id="compare-title"
            )
            yield Vertical(id="compare-warnings")
            # The plots side by side over the whole width, the config diff below them:
            # at 80x24 each plot keeps rows enough to read.
            with Vertical(id="compare-body"):
                with Horizontal(id="compare-curves"):
                    yield CurvePlot("loss", id="compare-loss")
                    yield CurvePlot("acc", id="compare-acc")
                yield DataTable(id="compare-diff", cursor_type="row", zebra_stripes=True)
            yield Label("esc: back · a: all keys / changed only · l: log y", id="compare-keys")
        yield Footer()

    def on_mount(self) -> None:
        self.load_configs()
        self.load_histories()

    @work(group="compare-configs")
    async def load_configs(self) -> None:
        """The config diff and the parent warnings (reading config files: in a thread)."""

        def read() -> tuple[list[KeyRow], list[str]]:
            warnings = compare_warnings(self.runs)
            return compare_configs(self.runs), warnings

        self.rows, self.warnings = await asyncio.to_thread(read)
        box = self.query_one("#compare-warnings", Vertical)
        labels = [
            Label(f"⚠ {warning}", classes="compare-warning", markup=False)
            for warning in self.warnings
        ]
        if len(self.runs) >= 2:
            labels.append(Label("Seed noise: reading the seed replicas…", id="compare-seed-noise"))
        await box.mount_all(labels)
        if len(self.runs) >= 2:
            self.load_seed_noise()
        self._show_diff()

    @work(group="compare-seed-noise")
    async def load_seed_noise(self) -> None:
        """Reads every run of the runs directory (and imports scipy): in a thread."""
        from tuirecipe.tune.seeds import seed_noise_verdict

        self.seed_noise = await asyncio.to_thread(seed_noise_verdict, *self.runs)
        self.query_one("#compare-seed-noise", Label).update(Text(f"Seed noise: {self.seed_noise}"))

    @work(group="compare-load")
    async def load_histories(self) -> None:
        histories = await asyncio.to_thread(_read_histories, self.runs)
        names = short_names([run.id for run in self.runs])
        sources = list(zip(names, histories, strict=True))
        regression = all(not len(h.acc) and "mae" in h.dev for h in histories)
        for plot in self.query(CurvePlot):
            plot.data.label_first = True  # every run's lines carry its name
            if plot.id == "compare-acc" and regression:
                plot.set_metric("mae")
            plot.set_sources(sources)

    def _show_diff(self) -> None:
        table = self.query_one("#compare-diff", DataTable)
        table.clear(columns=True)
        table.add_column("key", key="key")
        names = short_names([run.id for run in self.runs], longest=24)
        for run, name in zip(self.runs, names, strict=True):
            table.add_column(literal(name), key=run.id)  # a str label is markup
        highlight = theme_style(self.app.theme_variables, "warning", bold=True)
        rows = sorted(self.rows, key=lambda r: (not r.changed, r.key))
        changed = 0
        for row in rows:
            if self.only_changed and not row.changed:
                continue
            changed += row.changed
            style = highlight if row.changed else Style()
            table.add_row(
                Text(row.key, style=style),
                *(Text(_value(v), style=style) for v in row.values),
                key=row.key,
            )
        if not table.row_count:
            table.add_row("(the configs are identical)", *("" for _ in self.runs))

    def action_toggle_all(self) -> None:
        self.only_changed = not self.only_changed
        self._show_diff()

    def action_toggle_log(self) -> None:
        for plot in self.query(CurvePlot):
            plot.data.settings.log_y = not plot.data.settings.log_y
            plot.redraw_if_changed()


def _read_histories(runs: list[RunDir]) -> list[RunHistory]:
    out = []
    for run in runs:
        history = RunHistory()
        history.add(run.events())
        out.append(history)
    return out
