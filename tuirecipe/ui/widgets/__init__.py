"""Reusable widgets of the console (no torch here)."""

from tuirecipe.ui.widgets.browser import BrowserQuery, DataBrowser, RowDetail

__all__ = ["BrowserQuery", "DataBrowser", "RowDetail"]
