"""Where the console keeps its own files, and the small ``settings.json`` it remembers.

The settings directory is ``$TUIRECIPE_CONFIG_DIR`` when set, else
``~/.config/tuirecipe``; user themes live in its ``themes/`` folder. Settings are read
leniently (a missing or broken file means defaults) and written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tuirecipe.runs.rundir import atomic_write_text

SETTINGS_FILE = "settings.json"


def default_settings_dir() -> Path:
    env = os.environ.get("TUIRECIPE_CONFIG_DIR")
    return Path(env).expanduser() if env else Path.home() / ".config" / "tuirecipe"


@dataclass
class Settings:
    theme: str | None = None

    @classmethod
    def load(cls, folder: Path) -> Settings:
        try:
            data = json.loads((Path(folder) / SETTINGS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        theme = data.get("theme")
        return cls(theme=theme if isinstance(theme, str) else None)

    def save(self, folder: Path) -> None:
        """Write the settings, keeping keys this version does not know about."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SETTINGS_FILE
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
            current = current if isinstance(current, dict) else {}
        except (OSError, ValueError):
            current = {}
        current.update(asdict(self))
        atomic_write_text(path, json.dumps(current, indent=2, sort_keys=True) + "\n")
