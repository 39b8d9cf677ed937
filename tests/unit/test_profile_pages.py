"""``without_huge_pages``: the ``tuirecipe data`` process turns transparent huge pages off
for itself (Linux), and nothing else does."""

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
