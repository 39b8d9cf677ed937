"""The UI starts and signals no process itself (issue 10; DESIGN.md §3).

Every process the console starts goes through the core's job client, which verifies a
worker before signalling it and reaps what it started. This test reads every module under
``tuirecipe/ui`` with ``ast`` and names each place that would bypass the client: a call of
``launch``, ``start_worker``, ``Popen``, anything in ``subprocess``, ``os.kill`` and its
relatives, or an import that brings one of them in under another name. The second test
plants offenders to prove that the scan can fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "tuirecipe" / "ui"

FORBIDDEN_NAMES = {"launch", "start_worker", "send_control", "Popen"}
FORBIDDEN_MODULES = {"subprocess", "multiprocessing"}
FORBIDDEN_OS = {"kill", "killpg", "system", "fork", "forkpty", "popen", "pidfd_open"}
FORBIDDEN_OS_PREFIXES = ("spawn", "exec", "posix_spawn")
FORBIDDEN_ELSEWHERE = {
    ("signal", "pidfd_send_signal"),
    ("asyncio", "create_subprocess_exec"),
    ("asyncio", "create_subprocess_shell"),
}


def _forbidden_os(name: str) -> bool:
    return name in FORBIDDEN_OS or name.startswith(FORBIDDEN_OS_PREFIXES)


def offences(source: str, filename: str = "<planted>") -> list[str]:
    """``file:line what`` for every way ``source`` starts or signals a process itself."""
    found: list[str] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', '?')} {what}")

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    flag(node, f"imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            for alias in node.names:
                if module.split(".")[0] in FORBIDDEN_MODULES:
                    flag(node, f"imports {alias.name} from {module}")
                elif alias.name in FORBIDDEN_NAMES:
                    flag(node, f"imports {alias.name} from {module}")
                elif module == "os" and _forbidden_os(alias.name):
                    flag(node, f"imports os.{alias.name}")
                elif (module, alias.name) in FORBIDDEN_ELSEWHERE:
                    flag(node, f"imports {module}.{alias.name}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
                flag(node, f"calls {func.id}()")
            elif isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else None
                if func.attr in FORBIDDEN_NAMES:
                    flag(node, f"calls {owner or '…'}.{func.attr}()")
                elif owner in FORBIDDEN_MODULES:
                    flag(node, f"calls {owner}.{func.attr}()")
                elif owner == "os" and _forbidden_os(func.attr):
                    flag(node, f"calls os.{func.attr}()")
                elif (owner, func.attr) in FORBIDDEN_ELSEWHERE:
                    flag(node, f"calls {owner}.{func.attr}()")
    return found


def ui_sources() -> list[Path]:
    return sorted(p for p in UI.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_ui_module_starts_or_signals_a_process_itself():
    sources = ui_sources()
    assert len(sources) > 10 and UI / "app.py" in sources and UI / "bus.py" in sources
    found = [
        hit
        for path in sources
        for hit in offences(path.read_text(encoding="utf-8"), str(path.relative_to(UI.parent)))
    ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    "planted",
    [
        "from tuirecipe.runs.launch import launch\nrun, proc = launch(config)",
        "import tuirecipe.runs.launch as l\nl.launch(config, 'check')",
        "from tuirecipe.runs import launch as m\nm.start_worker(run)",
        "import subprocess\nsubprocess.Popen(['python'])",
        "import subprocess as sp\nsp.run(['ls'])",
        "from subprocess import run as go\ngo(['ls'])",
        "import os, signal\nos.kill(pid, signal.SIGTERM)",
        "from os import kill\nkill(pid, 15)",
        "import os\nos.killpg(pid, 9)",
        "import os\nos.execvp('python', ['python'])",
        "import os\nos.posix_spawn('python', ['python'], {})",
        "import asyncio\nasync def f():\n    await asyncio.create_subprocess_exec('ls')",
        "import signal\nsignal.pidfd_send_signal(fd, 15)",
    ],
)
def test_the_scan_catches_a_planted_offender(planted: str):
    assert offences(planted) != []


def test_the_scan_lets_the_job_clients_way_through():
    allowed = (
        "import signal\n"
        "signal.raise_signal(signal.SIGHUP)\n"
        "run = await self.app.workers_client.start_job(config, 'check')\n"
        "self.app.bus.publish('command', Command('stop', run_id=run.id))\n"
        "self.launched = True\n"
    )
    assert offences(allowed) == []
