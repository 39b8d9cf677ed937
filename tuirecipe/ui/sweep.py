"""Reading a controlled experiment (a sweep of one config key) typed in the console.

The sweep itself runs as its own detached ``tuirecipe sweep`` process, started and reaped
by the job client (:meth:`tuirecipe.ui.bus.WorkerClient.start_tune`), so it outlives the
console like any run and quitting knows about it; its parent and children are ordinary run
directories that the Runs pane lists and compares.
"""

from __future__ import annotations

from typing import Any

from tuirecipe.config import Config
from tuirecipe.errors import ConfigError
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


def sweep_options(config: Config, answer: str) -> tuple[str, list[Any], list[str]]:
    """Validate ``answer`` (``"train.lr=1e-4,3e-4 [-j N]"``) against ``config``; returns
    the key, its values and the options of the ``tuirecipe sweep`` command that runs it.
    A ConfigError names the problem before anything starts."""
    vary, parallel = parse_answer(answer)
    key, values = parse_vary(vary)
    from tuirecipe.tune.space import with_values

    for value in values:
        with_values(config, {key: value})  # every child config valid before anything starts
    options = ["--vary", vary, "--motivation", f"sweep {key} from the console"]
    if parallel:
        options += ["--parallel", str(parallel)]
    return key, values, options
