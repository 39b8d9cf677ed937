"""``without_huge_pages`` and ``keep_freed_memory``: the ``tuirecipe data`` process turns
transparent huge pages off for itself (Linux) and keeps freed memory for reuse (glibc), and
nothing else does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

_STATUS = Path("/proc/self/status")


def _thp_enabled(code: str) -> str:
    script = (
        f"{code}\n"
        "print(next(l.split()[1] for l in open('/proc/self/status') "
        "if l.startswith('THP_enabled')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.skipif(
    not _STATUS.exists() or "THP_enabled" not in _STATUS.read_text(),
    reason="needs Linux with THP_enabled in /proc/self/status",
)
def test_huge_pages_off_only_when_asked() -> None:
    assert _thp_enabled("import tuirecipe.data.profiling") == "1"
    applied = "from tuirecipe.data.profiling import without_huge_pages as w; assert w()"
    assert _thp_enabled(applied) == "0"


def test_without_huge_pages_is_a_no_op_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuirecipe.data import profiling

    monkeypatch.setattr(profiling.sys, "platform", "darwin")
    assert profiling.without_huge_pages() is False


_FAULTS = """
import resource, sys
import numpy as np
from tuirecipe.data import profiling
profiling.without_huge_pages()  # as the command: faults of 4 KiB pages, countable
if sys.argv[1] == "keep":
    assert profiling.keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
before = faults()
block = np.ones(64 << 17)  # 64 MiB, every page touched
first = faults() - before
del block
before = faults()
block = np.ones(64 << 17)
print(first, faults() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux")
def test_kept_memory_is_reused_without_new_page_faults() -> None:
    """After keep_freed_memory, a freed 64 MiB block comes back without the kernel zeroing
    its pages again; without it, every page faults again (the default: such a block is
    handed back to the system when freed)."""

    def run(mode: str) -> tuple[int, int]:
        out = subprocess.run(
            [sys.executable, "-c", _FAULTS, mode],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        first, second = out.stdout.split()
        return int(first), int(second)

    first, second = run("keep")
    assert first > 1000 and second < first / 10
    first, second = run("default")
    assert first > 1000 and second > first / 2


def test_keep_freed_memory_is_a_no_op_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuirecipe.data import profiling

    monkeypatch.setattr(profiling.sys, "platform", "darwin")
    assert profiling.keep_freed_memory() is False
