"""Theme files: TOML data validated into :class:`textual.theme.Theme`.

A theme file holds the keys of ``textual.theme.Theme`` (``name``, ``primary``, …,
``dark``, ``ansi``) and an optional ``[variables]`` table. ``name`` defaults to the file
name. Themes come from the package's own ``tuirecipe/themes/`` (package data, found with
:mod:`importlib.resources`), then the user's ``<settings dir>/themes`` (a user theme of the
same name wins). A file that does not
validate is reported as a :class:`ThemeProblem` and skipped: it never stops the console.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from rich.style import Style
from textual.color import Color
from textual.theme import Theme

DEFAULT_THEME = "dark"
_COLOUR_KEYS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_FLOAT_KEYS = ("luminosity_spread", "text_alpha")
_BOOL_KEYS = ("dark", "ansi")


class ThemeFileError(ValueError):
    """A theme file is not a valid theme; ``str()`` names the file and the key."""


@dataclass(frozen=True)
class ThemeProblem:
    path: Traversable
    message: str

    def __str__(self) -> str:
        return f"theme {self.path}: {self.message}"


def builtin_theme_dir() -> Traversable:
    """The themes shipped inside the package (``tuirecipe/themes/*.toml``)."""
    return resources.files("tuirecipe") / "themes"


def theme_dirs(settings_dir: Path) -> list[Traversable]:
    return [builtin_theme_dir(), Path(settings_dir) / "themes"]


def theme_from_dict(data: dict, default_name: str) -> Theme:
    known = {f.name for f in dataclasses.fields(Theme)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ThemeFileError(f"unknown key '{unknown[0]}'")
    kwargs = dict(data)
    kwargs.setdefault("name", default_name)
    if not isinstance(kwargs["name"], str) or not kwargs["name"].strip():
        raise ThemeFileError("key 'name' must be a non-empty string")
    if "primary" not in kwargs:
        raise ThemeFileError("key 'primary' is required")
    for key in _COLOUR_KEYS:
        if key in kwargs and not isinstance(kwargs[key], str):
            raise ThemeFileError(f"key '{key}' must be a colour string, got {kwargs[key]!r}")
    for key in _BOOL_KEYS:
        if key in kwargs and not isinstance(kwargs[key], bool):
            raise ThemeFileError(f"key '{key}' must be true or false")
    for key in _FLOAT_KEYS:
        value = kwargs.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ThemeFileError(f"key '{key}' must be a number")
    variables = kwargs.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeFileError("[variables] must be a table of strings")
    theme = Theme(**kwargs)
    try:  # the colour system parses every colour: a typo shows up here, not at paint time
        theme.to_color_system().generate()
    except Exception as exc:
        raise ThemeFileError(str(exc)) from None
    return theme


def load_theme_file(path: Traversable) -> Theme:
    """The theme in one file (a :class:`~pathlib.Path`, or a package resource)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"is not valid TOML: {exc}") from None
    return theme_from_dict(data, path.name.removesuffix(".toml"))


def discover_themes(
    folders: list[Traversable],
) -> tuple[dict[str, Theme], list[ThemeProblem]]:
    """Every valid theme in ``folders`` (later folders win), and the files that failed."""
    themes: dict[str, Theme] = {}
    problems: list[ThemeProblem] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        files = [f for f in folder.iterdir() if f.name.endswith(".toml") and f.is_file()]
        for path in sorted(files, key=lambda f: f.name):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                problems.append(ThemeProblem(path, str(exc)))
                continue
            themes[theme.name] = theme
    return themes, problems


def theme_style(variables: dict[str, str], name: str, *, bold: bool = False) -> Style:
    """A Rich style coloured by the theme variable ``name`` (``"error"``, ``"success"``, …).

    Theme variables are Textual colours: an ANSI theme holds names such as ``ansi_red``
    that Rich cannot parse, so the colour goes through Textual's parser, which gives the
    Rich colour (the terminal's own palette entry for ANSI colours). An absent or
    unparsable variable gives a style with no colour, never an error at paint time.
    """
    value = variables.get(name, "")
    colour = None
    if value:
        try:
            colour = Color.parse(value).rich_color
        except Exception:
            colour = None
    return Style(color=colour, bold=bold or None)
