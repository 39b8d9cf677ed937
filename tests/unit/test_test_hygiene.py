"""The tests themselves: no fixed sleep used to wait for something, one shared wait helper.

A test that waits for something polls the condition with a deadline
(``support.waiting.wait_until`` / ``wait_for``). A sleep is allowed only where time passing
is what the test is about (a paused run takes no steps, keys typed at a person's pace);
such a line carries the marker comment ``not synchronisation`` (on the line or the line
above), which says why.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize

import pytest
from support import TESTS_DIR

MARKER = "not synchronisation"
WAIT_HELPERS = {"wait_for", "wait_until", "_until", "_wait_for"}


def fixed_sleeps(source: str) -> list[int]:
    """Line numbers of ``sleep(...)`` calls (``time.sleep``, ``asyncio.sleep``, a bare
    ``sleep``) and of ``.pause(<something>)`` calls without the marker comment. Text in
    strings (code a subprocess runs) is not code here and is not looked at."""
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    ]
    marked: set[int] = set()
    for t in tokens:
        if t.type == tokenize.COMMENT and MARKER in t.string:
            line = t.start[0]
            marked.add(line)
            if t.line.strip().startswith("#"):  # a comment line speaks for the next one
                marked.add(line + 1)
    found = []
    for i, t in enumerate(tokens[:-2]):
        following = tokens[i + 1]
        if t.type != tokenize.NAME or following.string != "(":
            continue
        previous = tokens[i - 1].string if i else ""
        is_sleep = t.string == "sleep"
        is_timed_pause = t.string == "pause" and previous == "." and tokens[i + 2].string != ")"
        if (is_sleep or is_timed_pause) and previous != "def" and t.start[0] not in marked:
            found.append(t.start[0])
    return found


def test_fixed_sleeps_are_found_unless_marked() -> None:
    source = (
        "import asyncio, time\n"
        "from time import sleep\n"
        "time.sleep(1)\n"  # 3
        "await asyncio.sleep(0.1)\n"  # 4
        "sleep(2)\n"  # 5
        "await pilot.pause(0.5)\n"  # 6
        "await pilot.pause()\n"  # processes pending messages: not a fixed wait
        "time.sleep(1)  # not synchronisation: a paused run takes no steps\n"
        "# not synchronisation: keys at a person's pace\n"
        "time.sleep(0.1)\n"
        "code = 'import time; time.sleep(60)'\n"  # a string a subprocess runs
        "time.sleep(3)  # waits for the worker\n"  # 12: a comment, but not the marker
    )
    assert fixed_sleeps(source) == [3, 4, 5, 6, 12]


def test_no_test_waits_with_a_fixed_sleep() -> None:
    offenders = [
        f"{path.relative_to(TESTS_DIR)}:{line}"
        for path in sorted(TESTS_DIR.rglob("*.py"))
        for line in fixed_sleeps(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, (
        "a fixed sleep used to wait: poll the condition with support.waiting.wait_until or "
        f"wait_for, or, where time passing is the point, add '# {MARKER}: <why>' — {offenders}"
    )


def local_wait_helpers(source: str) -> list[str]:
    """Functions named like a wait helper defined in ``source`` (at any depth)."""
    return [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in WAIT_HELPERS
    ]


def test_local_wait_helpers_are_found() -> None:
    source = "async def wait_for(pilot, c):\n    pass\n\ndef helper():\n    def _until(): pass\n"
    assert local_wait_helpers(source) == ["wait_for", "_until"]


def test_every_test_waits_with_the_shared_helper() -> None:
    shared = TESTS_DIR / "support" / "waiting.py"
    copies = [
        f"{path.relative_to(TESTS_DIR)}: {name}"
        for path in sorted(TESTS_DIR.rglob("*.py"))
        if path != shared
        for name in local_wait_helpers(path.read_text(encoding="utf-8"))
    ]
    assert not copies, f"use support.waiting instead of a local copy: {copies}"


def test_a_unit_test_may_not_start_a_console_or_a_tuirecipe_process() -> None:
    """The guard in conftest.py: the unit level stays in process and without Textual."""
    from textual.app import App

    with pytest.raises(AssertionError, match="move it to tests/functional"):
        subprocess.Popen([sys.executable, "-m", "tuirecipe.worker", "nowhere"])
    with pytest.raises(AssertionError, match="run a Textual app"):
        App().run_test()
    done = subprocess.run([sys.executable, "-c", "pass"], timeout=60)  # an import check may
    assert done.returncode == 0
