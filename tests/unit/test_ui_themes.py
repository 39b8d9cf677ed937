"""Theme files are data: the shipped ones validate, broken ones are reported, not fatal."""

from __future__ import annotations

import json

import pytest
from textual.theme import Theme

from tuirecipe.ui.settings import Settings, default_settings_dir
from tuirecipe.ui.themes import (
    ThemeFileError,
    builtin_theme_dir,
    discover_themes,
    load_theme_file,
    theme_dirs,
)


def test_shipped_themes_validate():
    themes, problems = discover_themes([builtin_theme_dir()])
    assert problems == []
    assert {"dark", "light", "ansi16"} <= set(themes)
    assert themes["light"].dark is False
    ansi = themes["ansi16"]
    assert ansi.ansi is True
    # Only the terminal's own colours: legible in a 16-colour terminal.
    colours = [
        getattr(ansi, k)
        for k in (
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
        )
    ]
    assert all(c.startswith("ansi_") for c in colours)


def test_no_hex_colours_in_the_stylesheet():
    import re
    from pathlib import Path

    import tuirecipe.ui.app as app_module

    tcss = (Path(app_module.__file__).parent / "app.tcss").read_text()
    hex_value = re.compile(r":[^;{}\n]*#[0-9a-fA-F]{3,8}\b[^;{}\n]*;")
    assert hex_value.search("a { color: #ff0000; }")  # the test can fail
    assert not hex_value.search(tcss)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('name = "x"\nprimary = "not-a-colour"\n', "not-a-colour"),
        ('name = "x"\n', "primary"),
        ('name = "x"\nprimary = "#123456"\nprimry = "#000000"\n', "primry"),
        ('name = "x"\nprimary = 12\n', "primary"),
        ('name = "x"\nprimary = "#123456"\ndark = "yes"\n', "dark"),
        ('name = "x"\nprimary = "#123456"\nvariables = 3\n', "variables"),
        ("primary = = 1", "TOML"),
    ],
)
def test_malformed_theme_files_raise_a_clear_error(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ThemeFileError, match=fragment):
        load_theme_file(path)


def test_name_defaults_to_the_file_name(tmp_path):
    (tmp_path / "ocean.toml").write_text('primary = "#336699"\n')
    theme = load_theme_file(tmp_path / "ocean.toml")
    assert isinstance(theme, Theme) and theme.name == "ocean"


def test_discovery_skips_bad_files_and_user_themes_win(tmp_path):
    user = tmp_path / "themes"
    user.mkdir()
    (user / "dark.toml").write_text('name = "dark"\nprimary = "#ff0000"\n')
    (user / "broken.toml").write_text('primary = "nope"\n')
    themes, problems = discover_themes(theme_dirs(tmp_path))
    assert themes["dark"].primary == "#ff0000"
    assert "light" in themes and "broken" not in themes
    assert [p.path.name for p in problems] == ["broken.toml"]
    assert "broken.toml" in str(problems[0])


def test_settings_round_trip_and_tolerate_a_broken_file(tmp_path):
    assert Settings.load(tmp_path).theme is None
    (tmp_path / "settings.json").write_text("{not json")
    assert Settings.load(tmp_path).theme is None
    (tmp_path / "settings.json").write_text(json.dumps({"theme": "light", "other": 1}))
    assert Settings.load(tmp_path).theme == "light"
    Settings(theme="ansi16").save(tmp_path)
    data = json.loads((tmp_path / "settings.json").read_text())
    assert data == {"theme": "ansi16", "other": 1}


def test_settings_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TUIRECIPE_CONFIG_DIR", str(tmp_path))
    assert default_settings_dir() == tmp_path
    monkeypatch.delenv("TUIRECIPE_CONFIG_DIR")
    assert default_settings_dir().parts[-2:] == (".config", "tuirecipe")
