"""Starting a controlled experiment (a sweep of one config key) from the console.

The sweep runs as its own detached ``tuirecipe sweep`` process (new session, output to a
log in the runs directory), so it outlives the console like any run; its parent and
children are ordinary run directories that the Runs pane lists and compares.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tuirecipe.config import Config
from tuirecipe.runs.launch import resolved_config
from tuirecipe.tune.sweep import parse_vary


def start_sweep(config: Config, vary: str) -> tuple[str, list, Path]:
    """Validate ``vary`` (``"train.lr=1e-4,3e-4"``), start the sweep; returns its log."""
    key, values = parse_vary(vary)  # a ConfigError here names the problem
    from tuirecipe.tune.space import with_values

    for value in values:
        with_values(config, {key: value})  # every child config valid before anything starts
    folder = config.runs_path / ".sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    config_path = folder / f"sweep-{stamp}.toml"
    config_path.write_text(resolved_config(config).to_toml(), encoding="utf-8")
    log_path = folder / f"sweep-{stamp}.log"
    with open(log_path, "ab") as log:
        subprocess.Popen([sys.executable, "-m", "tuirecipe", "sweep", str(config_path),
                          "--vary", vary, "--motivation", f"sweep {key} from the console"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True, close_fds=True)
    return key, values, log_path
