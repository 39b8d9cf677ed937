"""Reusable widgets of the console (no torch here)."""

from tuirecipe.ui.widgets.browser import BrowserQuery, DataBrowser

__all__ = ["BrowserQuery", "DataBrowser"]
