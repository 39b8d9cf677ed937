"""The dataset profile, shown as collapsible sections of text tables and bar charts.

:class:`ProfileView` takes the plain dict of ``DatasetProfile.to_dict()`` and shows one
collapsible section per topic (size, labels, lengths, duplicates, near-duplicates,
conflicts, corrupted rows, clusters), each drawn by the builders of
:mod:`tuirecipe.ui.profile_render`, the same ones ``tuirecipe data`` prints with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Collapsible, Static

from tuirecipe.ui.profile_render import (
    SECTION_TITLES,
    bar,
    profile_sections,
    render_section,
    section_label,
)

__all__ = ["ProfileView", "bar", "render_section", "SECTION_TITLES"]


class ProfileView(VerticalScroll):
    """Every section of a dataset profile, each collapsible, in one scrollable column."""

    DEFAULT_CSS = """
    ProfileView {
        height: 1fr;
        background: $surface;
    }
    ProfileView > Collapsible {
        padding: 0;
        margin: 0;
        border-top: none;
    }
    ProfileView > Collapsible > Contents {
        padding: 0 0 1 2;
    }
    ProfileView > .profile-empty {
        color: $text-muted;
        padding: 1 2;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.profile: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static("No profile yet.", classes="profile-empty")

    async def show_profile(self, profile: Mapping[str, Any], collapsed: Sequence[str] = ()) -> None:
        """Replace what is shown with ``profile`` (a ``DatasetProfile.to_dict()``)."""
        self.profile = dict(profile)
        widgets = []
        for key, title, data in profile_sections(profile):
            label = section_label(key, title, data)
            widgets.append(
                Collapsible(
                    Static(render_section(key, data), classes="profile-body"),
                    title=label,
                    collapsed=key in collapsed,
                    id=f"profile-{key}",
                )
            )
        await self.remove_children()
        await self.mount_all(widgets)

    def show_message(self, message: str) -> None:
        self.remove_children()
        # Load errors quote paths and exception texts: shown as they are, never as markup.
        self.mount(Static(message, classes="profile-empty", markup=False))
