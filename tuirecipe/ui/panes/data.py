"""The Data pane: the dataset profile, a virtual row browser, marks and cleaned exports.

On mount the pane loads the configured data file and profiles it in thread workers (the
event loop never waits on pandas), with a progress bar fed by the profile's callback. The
profile is cached by the data fingerprint under ``$TUIRECIPE_CACHE`` or
``<runs_dir>/.cache``. Marks made in the browser are saved at once to
``<runs_dir>/data_marks.json`` (:class:`~tuirecipe.data.cleaning.MarkStore`); ``e``
exports a cleaned copy beside the original (:func:`~tuirecipe.data.cleaning.export_cleaned`).
Rows that runs on the same file listed as label-wrong in their bad cases
(``label_wrong.csv``) are imported as ``label_wrong`` marks once per run and row, never
over a mark the person set.

``n`` estimates label noise (:mod:`tuirecipe.data.label_noise`, in a child process, cached
like the profile; a cached estimate is shown on load): the profile gains its section and
the browser a ``label error?`` flag (E) and a ``quality`` sort. ``A`` opens the label audit
(:class:`~tuirecipe.ui.screens.label_audit.LabelAuditScreen`); the rows the person
relabels differently are marked label-wrong.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import (
    Button,
    Collapsible,
    Input,
    ProgressBar,
    Select,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
)
from textual.worker import Worker, WorkerState, get_current_worker

from tuirecipe.config import Config
from tuirecipe.data.cleaning import (
    BULK_FLAGS,
    MARK_DROP,
    MARK_LABEL_WRONG,
    ExportResult,
    MarkImport,
    MarkStore,
    cleaned_paths,
    export_cleaned,
)
from tuirecipe.data.label_noise import flagged_positions, label_errors_by_row
from tuirecipe.data.row_flags import file_groups, profile_row_flags, removal_counts
from tuirecipe.errors import UserError
from tuirecipe.printable import printable
from tuirecipe.runs.badcases import (
    CLEANING_FILE,
    LabelWrongRows,
    describe_bad_case_import,
    label_wrong_rows,
)
from tuirecipe.ui.literal import literal, literal_line
from tuirecipe.ui.modals import ConfirmScreen
from tuirecipe.ui.panes import typing_into
from tuirecipe.ui.screens.export_dialog import ExportDialog
from tuirecipe.ui.screens.row_detail import RowDetail
from tuirecipe.ui.widgets.browser import (
    FLAG_NAMES,
    THREAD_THRESHOLD,
    BrowserQuery,
    DataBrowser,
)
from tuirecipe.ui.widgets.profile_view import ProfileView

if TYPE_CHECKING:
    from tuirecipe.data.label_noise import LabelNoise
    from tuirecipe.data.profile import DatasetProfile
    from tuirecipe.data.profiling import LoadedDataset

__all__ = ["DataPane", "ExportDialog"]


def _display_path(path: Path) -> str:
    """``path`` relative to the working folder when it is under it, else ``~``-shortened."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        home = str(Path.home())
        text = str(path)
        return "~" + text[len(home) :] if text.startswith(home + os.sep) else text


NEXT_STEP = "Next: the sanity checks. 2 opens Checks, where a runs them all."


class DataPane(Vertical):
    """Profile and browse the configured dataset; mark rows; export a cleaned copy."""

    DEFAULT_CSS = """
    DataPane {
        height: 1fr;
    }
    DataPane > #data-source {
        height: auto;  /* path, counts, hash and marks wrap at 80 columns, never cut */
        max-height: 3;
        padding: 0 1;
        color: $text-muted;
    }
    DataPane > #profile-progress-row {
        height: 1;
        padding: 0 1;
    }
    DataPane > #profile-progress-row.-done {
        display: none;
    }
    DataPane > #data-next {
        display: none;
        height: 1;
        padding: 0 1;
        color: $accent;
        text-overflow: ellipsis;
        text-wrap: nowrap;
    }
    DataPane > #data-next.-shown {
        display: block;
    }
    DataPane #profile-progress-message {
        width: 1fr;
        color: $text-muted;
        margin-left: 2;
    }
    DataPane #browser-bar {
        height: 3;
    }
    DataPane #browser-bar > Select {
        width: 22;
    }
    DataPane #browser-bar > Input {
        width: 1fr;
    }
    DataPane #browser-bar > Button {
        min-width: 10;
    }
    DataPane #browser-status {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    DataPane > TabbedContent {
        height: 1fr;
    }
    DataPane > TabbedContent > ContentSwitcher {
        height: 1fr;
    }
    DataPane TabPane {
        padding: 0;
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "show_tab('data-profile-tab')", "Profile"),
        Binding("b", "show_tab('data-browse-tab')", "Browse"),
        Binding("slash", "focus_search", "Search"),
        Binding("f", "cycle_flag", "Flag"),  # short: Browse's footer fits 120 columns
        Binding("l", "cycle_label", "Label"),
        Binding("e", "export", "Export"),
        # not in the footer (Browse's fits 120 columns): the help screen and the profile's
        # label-noise section name them
        Binding("n", "label_noise", "Label noise", show=False),
        # A, not a: "a" runs every check in the Checks pane, a key pressed often
        Binding("A", "label_audit", "Label audit", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(
        self,
        config: Config,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.config = config
        self.data: LoadedDataset | None = None
        self.marks: MarkStore | None = None
        self.profile: dict[str, Any] | None = None
        # the profile behind the browser's flags and the export's removals
        self.profile_result: DatasetProfile | None = None
        self.last_export: ExportResult | None = None
        # the label-noise estimate of ``data.frame``'s rows (``n``, or from the cache)
        self.label_noise: LabelNoise | None = None
        self._labels: list[str] = []
        self._search_timer: Timer | None = None
        self._row_wanted: int | None = None  # show_row before the data was loaded

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # The source line quotes the data file's path: plain text, never markup.
        yield Static("loading data…", id="data-source", markup=False)
        with Horizontal(id="profile-progress-row"):
            yield ProgressBar(total=1.0, show_eta=False, id="profile-progress")
            yield Static("", id="profile-progress-message", markup=False)
        # Where the progress bar was, once the profile is in: the recipe's next step.
        yield Static(NEXT_STEP, id="data-next", markup=False)
        with TabbedContent(initial="data-profile-tab", id="data-tabs"):
            with TabPane("Profile", id="data-profile-tab"):
                yield ProfileView(id="profile-view")
            with TabPane("Browse", id="data-browse-tab"):
                with Horizontal(id="browser-bar"):
                    yield Select([], prompt="any label", id="filter-label")
                    flags = [(FLAG_NAMES[f], f) for f in FLAG_NAMES] + [("marked", "marked")]
                    yield Select(flags, prompt="any flag", id="filter-flag")
                    yield Input(placeholder="search text (/)", id="filter-search")
                    yield Button("Export", id="export-button")
                yield DataBrowser(id="browser")
                yield Static("", id="browser-status")

    def on_mount(self) -> None:
        self.load_data()
        self.call_after_refresh(self._focus_if_idle)

    def _focus_if_idle(self) -> None:
        """Mounted late (the console loads this pane lazily): take the keyboard if it sits
        on nothing, or on the tab strip of the very tab this pane is shown in."""
        focused = self.screen.focused
        if focused is None:
            if self.is_on_screen:
                self.query_one(ProfileView).focus()
            return
        holder = next((a for a in self.ancestors if isinstance(a, TabPane)), None)
        tabbed = next((a for a in self.ancestors if isinstance(a, TabbedContent)), None)
        if (
            holder is not None
            and tabbed is not None
            and tabbed.active == holder.id
            and isinstance(focused, Tabs)
            and tabbed in focused.ancestors
        ):
            self.query_one(ProfileView).focus()

    # -- loading ---------------------------------------------------------------------------
    def _set_progress(self, fraction: float, message: str) -> None:
        self.query_one("#profile-progress", ProgressBar).update(progress=max(0.0, fraction))
        self.query_one("#profile-progress-message", Static).update(message)

    @work(thread=True, exclusive=True, group="data-load", exit_on_error=False)
    def load_data(self) -> None:
        """Load, split and profile as ``tuirecipe data`` does (one shared function)."""
        from tuirecipe.data import profiling

        call: Callable[..., Any] = self.app.call_from_thread
        call(self._set_progress, 0.0, "reading the data file…")
        try:
            data = profiling.load_dataset(self.config)
        except UserError as exc:
            call(self._load_failed, str(exc))
            return
        bad_cases, present = self._find_bad_cases(data)
        # No flags until the profile is ready: the browser's flags are the profile's, so
        # its counts are the profile's.
        call(self._data_loaded, data, None, bad_cases, present)

        def progress(fraction: float, message: str = "") -> None:
            call(self._set_progress, float(fraction), str(message))

        try:
            result = profiling.profile_dataset(self.config, data, progress)
        except UserError as exc:
            call(self._profile_failed, str(exc))
            return
        call(self._profile_ready, result.to_dict())
        flags = profile_row_flags(result, data)
        if flags is not None:
            self.profile_result = result
            groups = file_groups(result, len(data.frame))
            call(self.query_one(DataBrowser).set_flags, flags, groups)
        from tuirecipe.data.label_noise_run import cached_label_noise

        noise = cached_label_noise(self.config, data)  # shown when an earlier run made it
        if noise is not None:
            call(self._noise_ready, data, noise, noise.section)

    def _load_failed(self, message: str) -> None:
        self.query_one("#data-source", Static).update(literal(message, style="bold"))
        self.query_one("#profile-progress-row").add_class("-done")
        self.query_one(ProfileView).show_message(
            printable(f"The data cannot be loaded:\n{message}")
        )
        self.app.notify(message, title="Data", severity="error")

    def _data_loaded(
        self,
        data: LoadedDataset,
        flags: pd.DataFrame | None,
        bad_cases: LabelWrongRows,
        present: set[int],
    ) -> None:
        """``bad_cases``: the runs' label-wrong rows for this file; ``present``: those
        of its rows that are in ``data.frame``."""
        self.data = data
        self.profile_result = None
        self.label_noise = None
        self.marks = MarkStore(self.config.runs_path, data.sha256, data.path)
        self._import_bad_cases(bad_cases, present)
        browser = self.query_one(DataBrowser)
        browser.set_data(data.frame, flags, self.marks.marks)
        self._labels = sorted(data.frame["label"].astype(str).unique().tolist())[:200]
        # Labels come from the data: Text prompts, so "[b]neg" is not drawn as a bold "neg".
        self.query_one("#filter-label", Select).set_options(
            (literal_line(lbl), lbl) for lbl in self._labels
        )
        self._show_source()
        if self._row_wanted is not None:
            row, self._row_wanted = self._row_wanted, None
            self.call_after_refresh(self.show_row, row)

    def show_row(self, row: int) -> None:
        """Open the browser at source row ``row`` (asked from a bad case or a prediction)."""
        if self.data is None:
            self._row_wanted = row
            self.app.notify(f"row {row} is shown once the data has loaded", title="Data")
            return
        self.action_show_tab("data-browse-tab")
        found = self.query_one(DataBrowser).go_to_row(row)
        if found == "hidden":
            self.app.notify(
                f"row {row} is hidden by the filters (label, flag, search): clear them to see it",
                title="Data",
                severity="warning",
            )
        elif found == "absent":
            self.app.notify(
                f"row {row} is not in {self.data.path.name} "
                "(a separate dev file, or a skipped row)",
                title="Data",
                severity="warning",
            )

    def _find_bad_cases(self, data: LoadedDataset) -> tuple[LabelWrongRows, set[int]]:
        """The runs' label-wrong rows for this file, and those that are in its table."""
        bad_cases = label_wrong_rows(self.config.runs_path, data.sha256)
        listed = np.fromiter(bad_cases.rows, dtype=np.int64, count=len(bad_cases.rows))
        present = listed[np.isin(listed, data.frame["row"].to_numpy())]
        return bad_cases, {int(r) for r in present}

    def on_show(self) -> None:
        # Back from the Train pane, where bad cases may just have been marked.
        if self.data is not None and self.marks is not None:
            self._rescan_bad_cases(self.data)

    @work(thread=True, exclusive=True, group="data-bad-cases", exit_on_error=False)
    def _rescan_bad_cases(self, data: LoadedDataset) -> None:
        bad_cases, present = self._find_bad_cases(data)
        if bad_cases.rows:
            bad_cases.skipped.clear()  # unreadable lists were named when the data loaded
            self.app.call_from_thread(self._import_bad_cases, bad_cases, present, data)

    def _import_bad_cases(
        self, bad_cases: LabelWrongRows, present: set[int], data: LoadedDataset | None = None
    ) -> None:
        """Mark the rows runs listed as label-wrong; say so once when any are new.
        ``data``: the table the rows were looked up in (a rescan): the browser is told."""
        if self.marks is None or (data is not None and data is not self.data):
            return  # another file was loaded meanwhile
        result = MarkImport()
        if bad_cases.rows:
            try:
                result = self.marks.import_marks(
                    bad_cases.rows, MARK_LABEL_WRONG, known_rows=present
                )
            except OSError as exc:
                self.app.notify(
                    f"cannot save the marks from the runs' {CLEANING_FILE}: {exc}",
                    title="Data",
                    severity="error",
                    markup=False,
                )
                return
        if data is not None:
            browser = self.query_one(DataBrowser)
            for row in result.marked:
                browser.set_mark(row, MARK_LABEL_WRONG)
            if result.marked:
                self._show_mark_counts()  # both lines: they said 2 and 3 marked once
        message = describe_bad_case_import(result, bad_cases)
        if message:
            self.app.notify(
                message,
                title="Label-wrong rows from bad cases",
                severity="warning" if bad_cases.skipped else "information",
                timeout=12,
                markup=False,
            )

    def _show_source(self) -> None:
        if self.data is None:
            return
        d = self.data
        parts = [_display_path(d.path), d.counts_line(), f"sha256 {d.sha256[:12]}"]
        if self.marks is not None and len(self.marks):
            parts.append(f"{len(self.marks)} marked")
        self.query_one("#data-source", Static).update(literal(" · ".join(parts)))

    def _profile_failed(self, message: str) -> None:
        self.query_one("#profile-progress-row").add_class("-done")
        self.query_one(ProfileView).show_message(printable(f"No profile: {message}"))

    async def _profile_ready(self, profile: dict[str, Any]) -> None:
        self.profile = profile
        self._set_progress(1.0, "profile ready")
        self.query_one("#profile-progress-row").add_class("-done")
        self.query_one("#data-next").add_class("-shown")
        await self.query_one(ProfileView).show_profile(profile)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "data-load" and event.state == WorkerState.ERROR:
            error = event.worker.error
            self._load_failed(f"data pane error: {type(error).__name__}: {error}")

    # -- label noise -----------------------------------------------------------------------
    def action_label_noise(self) -> None:
        """Estimate label noise (confident learning) in a worker process; cached."""
        if self.data is None or self.profile is None:
            self.app.notify("The profile is not ready yet.", title="Label noise")
            return
        self.app.notify(
            "estimating label noise: 5-fold TF-IDF + logistic regression, then confident "
            "learning, in a worker process…",
            title="Label noise",
        )
        self.estimate_label_noise(self.data, self.profile_result)

    @work(thread=True, exclusive=True, group="data-noise", exit_on_error=False)
    def estimate_label_noise(self, data: LoadedDataset, profile: DatasetProfile | None) -> None:
        from tuirecipe.data.label_noise import NotApplicable
        from tuirecipe.data.label_noise_run import label_noise_for

        call: Callable[..., Any] = self.app.call_from_thread
        worker = get_current_worker()
        try:
            noise = label_noise_for(
                self.config,
                data,
                profile,
                in_subprocess=True,
                cancelled=lambda: worker.is_cancelled,
            )
        except NotApplicable as exc:
            call(self._noise_ready, data, None, {"ran": False, "message": str(exc)})
            return
        except Exception as exc:  # a failed worker process is reported, the pane goes on
            message = f"label noise failed: {type(exc).__name__}: {exc}"
            call(self.app.notify, message, title="Label noise", severity="error", markup=False)
            return
        if noise is not None:  # None: cancelled (the console quit, or n pressed again)
            call(self._noise_ready, data, noise, noise.section)

    async def _noise_ready(
        self, data: LoadedDataset, noise: LabelNoise | None, section: dict[str, Any]
    ) -> None:
        if data is not self.data:
            return  # another file was loaded meanwhile
        if self.profile is not None:
            self.profile = {**self.profile, "label_noise": section}
            view = self.query_one(ProfileView)
            collapsed = [
                c.id.removeprefix("profile-")
                for c in view.query(Collapsible)
                if c.collapsed and c.id
            ]
            await view.show_profile(self.profile, collapsed)
        self.query_one(DataBrowser).set_label_noise(noise)
        self.label_noise = noise  # last: set once the profile and the browser show it
        if noise is None:
            self.app.notify(str(section.get("message", "")), title="Label noise", markup=False)
            return
        flagged = len(flagged_positions(noise))
        self.app.notify(
            f"{flagged:,} of {len(noise.issue):,} rows flagged as likely label errors "
            f"({section['rate']:.1%}); filter 'label error?' (f) and sort by quality (s)",
            title="Label noise",
            markup=False,
        )

    def action_label_audit(self) -> None:
        """Relabel a seeded random sample of the file; the rows you disagree on are marked
        label-wrong, and the agreement estimates the file's label noise."""
        from tuirecipe.ui.screens.label_audit import LabelAuditScreen

        if self.data is None or self.marks is None:
            self.app.notify("The data is not loaded yet.", title="Label audit")
            return
        self.app.push_screen(LabelAuditScreen(self.config, self.data), self._audit_done)

    def _audit_done(self, result: dict[str, Any] | None) -> None:
        from tuirecipe.data.label_audit import AUDIT_SOURCE, audit_summary

        if not result or self.marks is None or self.data is None:
            return
        wrong = {int(d["row"]): [AUDIT_SOURCE] for d in result.get("disagreements", [])}
        if wrong:
            try:
                imported = self.marks.import_marks(wrong, MARK_LABEL_WRONG)
            except OSError as exc:
                self.app.notify(
                    f"cannot save the marks: {exc}",
                    title="Label audit",
                    severity="error",
                    markup=False,
                )
                return
            browser = self.query_one(DataBrowser)
            for row in imported.marked:
                browser.set_mark(row, MARK_LABEL_WRONG)
            self._show_mark_counts()
        self.app.notify(audit_summary(result), title="Label audit", markup=False, timeout=12)

    # -- browser ---------------------------------------------------------------------------
    def _query_from_controls(self) -> BrowserQuery:
        browser = self.query_one(DataBrowser)
        label = self.query_one("#filter-label", Select).value
        flag = self.query_one("#filter-flag", Select).value
        search = self.query_one("#filter-search", Input).value
        q = browser.query_state
        return BrowserQuery(
            label if isinstance(label, str) else None,
            flag if isinstance(flag, str) else None,
            search,
            q.sort,
            q.descending,
        )

    @on(Select.Changed, "#filter-label, #filter-flag")
    def apply_filters(self) -> None:
        self.query_one(DataBrowser).set_query(self._query_from_controls())

    @on(Input.Changed, "#filter-search")
    def search_typed(self) -> None:
        """Search as you type; on a big table, once typing pauses (each search scans it all)."""
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        if len(self.query_one(DataBrowser).frame) > THREAD_THRESHOLD:
            self._search_timer = self.set_timer(0.25, self.apply_filters)
        else:
            self.apply_filters()

    @on(Input.Submitted, "#filter-search")
    def search_submitted(self) -> None:
        self.query_one(DataBrowser).focus()

    @on(DataBrowser.ViewChanged)
    def show_view_status(self, event: DataBrowser.ViewChanged) -> None:
        self._update_status(event.shown, event.total)

    def _update_status(self, shown: int | None = None, total: int | None = None) -> None:
        browser = self.query_one(DataBrowser)
        shown = len(browser.positions) if shown is None else shown
        total = len(browser.frame) if total is None else total
        q = browser.query_state
        marked = len(self.marks) if self.marks is not None else 0
        self.query_one("#browser-status", Static).update(
            f"{shown:,} of {total:,} rows · sort {q.sort}{' ▼' if q.descending else ''} · "
            f"{marked} marked"
        )

    @on(DataBrowser.MarkRequested)
    def save_mark(self, event: DataBrowser.MarkRequested) -> None:
        if self.marks is None:
            return
        try:
            self.marks.set(event.row, event.mark)
        except OSError as exc:
            self.app.notify(f"cannot save the mark: {exc}", title="Data", severity="error")
            return
        self.query_one(DataBrowser).set_mark(event.row, event.mark)
        self._show_mark_counts()

    def _show_mark_counts(self) -> None:
        """The marks are counted on the source line and the browser's status line: both
        are redrawn whenever marks change, from the one store."""
        self._update_status()
        self._show_source()

    @on(DataBrowser.RowOpened)
    def open_row(self, event: DataBrowser.RowOpened) -> None:
        self.app.push_screen(RowDetail(event.browser, event.position))

    # -- actions ---------------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        if tab == "data-browse-tab":
            self.query_one(DataBrowser).focus()
        else:
            self.query_one(ProfileView).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "back" and typing_into(self.screen):  # the search box has the letters
            return False
        if action == "show_tab":  # the tab already shown is not offered
            return self.query_one("#data-tabs", TabbedContent).active != parameters[0]
        return True

    @on(TabbedContent.TabActivated, "#data-tabs")
    def tab_shown(self) -> None:
        self.refresh_bindings()

    def action_back(self) -> None:
        """Esc backs out one level: the search box or a filter to the rows, the rows to
        the profile."""
        focused = self.screen.focused
        if isinstance(focused, (Input, Select)) or (
            focused is not None and any(isinstance(a, Select) for a in focused.ancestors)
        ):
            self.query_one(DataBrowser).focus()
        elif self.query_one("#data-tabs", TabbedContent).active == "data-browse-tab":
            self.action_show_tab("data-profile-tab")

    def action_focus_search(self) -> None:
        self.action_show_tab("data-browse-tab")
        self.query_one("#filter-search", Input).focus()

    def _cycle(self, select_id: str, values: list[str]) -> None:
        self.action_show_tab("data-browse-tab")
        select = self.query_one(select_id, Select)
        current = select.value
        options: list[Any] = [Select.NULL, *values]
        i = options.index(current) if current in options else 0
        nxt = options[(i + 1) % len(options)]
        if nxt is Select.NULL:
            select.clear()
        else:
            select.value = nxt

    def action_cycle_flag(self) -> None:
        # the label-error flag only once there is an estimate (n) to flag with
        names = [f for f in FLAG_NAMES if f != "label_error" or self.label_noise is not None]
        self._cycle("#filter-flag", [*names, "marked"])

    def action_cycle_label(self) -> None:
        self._cycle("#filter-label", self._labels)

    @on(Button.Pressed, "#export-button")
    def action_export(self) -> None:
        if self.data is None or self.marks is None:
            self.app.notify("The data is not loaded yet.", title="Export", severity="warning")
            return
        marks = self.marks.marks
        drops = sum(1 for m in marks.values() if m == MARK_DROP)
        wrong = sum(1 for m in marks.values() if m == MARK_LABEL_WRONG)
        summary = (
            f"Export a cleaned copy of\n{self.data.path}\n\n"
            f"{drops} row(s) marked drop will be removed; {wrong} marked label-wrong "
            "will be kept and listed in the manifest. The original is not changed."
        )
        counts = removal_counts(self.profile_result, len(self.data.frame))
        if counts is not None and self.label_noise is not None:
            counts["label_error"] = len(flagged_positions(self.label_noise))
        self.app.push_screen(ExportDialog(summary, counts), self._export_confirmed)

    def _export_confirmed(self, flags: tuple[str, ...] | None) -> None:
        if flags is None or self.data is None or self.marks is None:
            return
        assert set(flags) <= set(BULK_FLAGS)
        self._export_unless_declined(flags)

    @work(exclusive=True, group="data-export-ask")
    async def _export_unless_declined(self, flags: tuple[str, ...]) -> None:
        """A cleaned copy already there (an earlier export) is overwritten only once the
        person says so."""
        assert self.data is not None
        out_path, manifest_path, _ = cleaned_paths(self.data.path)
        paths = (out_path, manifest_path)
        there = await asyncio.to_thread(lambda: [p for p in paths if p.exists()])
        if there:
            names = " and ".join(_display_path(p) for p in there)
            overwrite = await self.app.push_screen_wait(
                ConfirmScreen(
                    "Overwrite the last export?",
                    f"{names} already exist{'s' if len(there) == 1 else ''} (an earlier "
                    "export). Exporting again replaces them.",
                    yes="Overwrite",
                )
            )
            if not overwrite:
                self.app.notify("export cancelled; the earlier one is kept", title="Export")
                return
        self.run_export(flags)

    @work(thread=True, exclusive=True, group="data-export", exit_on_error=False)
    def run_export(self, flags: tuple[str, ...]) -> ExportResult:
        assert self.data is not None and self.marks is not None
        cfg = self.config.data
        text_col = cfg.text_column if not cfg.text_column.isdigit() else "text"
        label_col = cfg.label_column if not cfg.label_column.isdigit() else "label"
        try:
            result = export_cleaned(
                self.data.path,
                self.data.frame,
                self.marks.marks,
                drop_flags=flags,
                text_column=text_col,
                label_column=label_col,
                groups=file_groups(self.profile_result, len(self.data.frame)),
                # the data file's own skipped rows (a dev file's are not in this copy)
                skipped=[s for s in self.data.skipped_rows if not s.get("file")],
                label_errors=label_errors_by_row(self.label_noise),
            )
        except OSError as exc:
            self.app.call_from_thread(
                self.app.notify, f"export failed: {exc}", title="Export", severity="error"
            )
            raise
        self.last_export = result
        self.app.call_from_thread(
            self.app.notify,
            f"{result.kept:,} rows kept, {result.removed:,} removed → {result.path}\n"
            f"manifest: {result.manifest_path.name}",
            title="Exported",
            timeout=10,
        )
        return result
