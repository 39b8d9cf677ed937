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
from tuirecipe.errors import ConfigError
from tuirecipe.runs.launch import resolved_config
from tuirecipe.tune.sweep import parse_vary


def parse_answer(answer: str) -> tuple[str, int | None]:
    """``"train.lr=1e-4,3e-4 -j 2"`` → ``("train.lr=1e-4,3e-4", 2)``: the key and values,
    and how many children train at once (None: the pool's default for this machine)."""
    words = answer.split()
    if len(words) >= 2 and words[-2] in ("-j", "--parallel"):
        if not words[-1].isdigit() or int(words[-1]) < 1:
            raise ConfigError(f"'{words[-1]}' is not a number of parallel runs", source="-j")
        return " ".join(words[:-2]), int(words[-1])
    return answer.strip(), None


def start_sweep(config: Config, answer: str) -> tuple[str, list, Path]:
    """Validate ``answer`` (``"train.lr=1e-4,3e-4 [-j N]"``), start the sweep; returns
    the key, its values and the sweep's log."""
    vary, parallel = parse_answer(answer)
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
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tuirecipe",
                "sweep",
                str(config_path),
                "--vary",
                vary,
                "--motivation",
                f"sweep {key} from the console",
                *(["--parallel", str(parallel)] if parallel else []),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return key, values, log_path
