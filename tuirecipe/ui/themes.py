"""Theme files: TOML data validated into :class:`textual.theme.Theme`.

A theme file holds the keys of ``textual.theme.Theme`` (``name``, ``primary``, …,
``dark``, ``ansi``) and an optional ``[variables]`` table. ``name`` defaults to the file
name. Themes come from the repository's ``themes/`` folder, then the user's
``<settings dir>/themes`` (a user theme of the same name wins). A file that does not
validate is reported as a :class:`ThemeProblem` and skipped: it never stops the console.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.theme import Theme

import tuirecipe

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
    path: Path
    message: str

    def __str__(self) -> str:
        return f"theme {self.path}: {self.message}"


def repo_theme_dir() -> Path:
    """``themes/`` beside the package in a checkout (editable install), else the copy a
    wheel install puts under ``<prefix>/share/tuirecipe/themes``."""
    beside = Path(tuirecipe.__file__).resolve().parent.parent / "themes"
    if beside.is_dir():
        return beside
    import sys

    return Path(sys.prefix) / "share" / "tuirecipe" / "themes"


def theme_dirs(settings_dir: Path) -> list[Path]:
    return [repo_theme_dir(), Path(settings_dir) / "themes"]


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


def load_theme_file(path: Path) -> Theme:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"is not valid TOML: {exc}") from None
    return theme_from_dict(data, path.stem)


def discover_themes(folders: list[Path]) -> tuple[dict[str, Theme], list[ThemeProblem]]:
    """Every valid theme in ``folders`` (later folders win), and the files that failed."""
    themes: dict[str, Theme] = {}
    problems: list[ThemeProblem] = []
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        for path in sorted(Path(folder).glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                problems.append(ThemeProblem(path, str(exc)))
                continue
            themes[theme.name] = theme
    return themes, problems
