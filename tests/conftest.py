"""Shared test helpers.

- ``REAL_DATA``: the real datasets at ``<repo parent>/shared/data/real`` (not part of the
  repository; a user's clone will not have it). Mark tests that read them with
  ``@requires_real_data`` (``from conftest import REAL_DATA, requires_real_data``) or take
  the ``real_data`` fixture, which skips when the folder is absent.
- Levels: ``tests/unit`` (the core, in process), ``tests/functional`` (consoles under
  ``run_test``, CLI and worker processes, the pty console), ``tests/snapshot``
  (``snap_compare``; stored SVGs in ``tests/snapshot/__snapshots__/<module>/``). A unit
  test that runs a Textual app, starts ``python -m tuirecipe...`` or opens a pty fails.
- Every test session gets its own ``TUIRECIPE_CACHE`` (a temp folder), so the demo
  datasets are never written to the user's ``~/.cache``.
- Waiting: ``from support.waiting import wait_for, wait_until`` (poll with a deadline;
  never a fixed sleep). ``wait_for`` is also importable from here for older imports.
- Console tests: the ``without_data_pane`` fixture (``pytestmark = pytest.mark.usefixtures(...)``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.waiting import wait_for  # noqa: F401  (older ``from conftest import``)

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "real"
UNIT_TESTS = Path(__file__).resolve().parent / "unit"

requires_real_data = pytest.mark.skipif(
    not REAL_DATA.is_dir(), reason=f"real datasets not available at {REAL_DATA}"
)


@pytest.fixture
def real_data() -> Path:
    """The real-datasets folder; the test is skipped when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real datasets not available at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture
def without_data_pane(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console without its Data pane (whose own tests cover it): its profiling threads
    outlive each test's app and would slow the next ones down."""
    import tuirecipe.ui.app as app_module

    monkeypatch.setattr(app_module, "DATA_PANE_MODULE", "tuirecipe.ui.panes._left_out")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("tuirecipe-cache")
    previous = os.environ.get("TUIRECIPE_CACHE")
    os.environ["TUIRECIPE_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("TUIRECIPE_CACHE", None)
    else:
        os.environ["TUIRECIPE_CACHE"] = previous


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny in-process models: a second intra-op thread only adds contention (on a 2-core
    box several times slower when other processes are busy). Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _unit_level_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests stay fast and in process: no Textual app, no tuirecipe CLI or worker
    process, no pseudo-terminal. (A ``python -c`` import check is allowed.)"""
    if UNIT_TESTS not in Path(request.node.path).resolve().parents:
        return
    import subprocess

    from textual.app import App

    def refuse(what: str):
        def refused(*args, **kwargs):
            raise AssertionError(f"a unit test may not {what}: move it to tests/functional")

        return refused

    original_init = subprocess.Popen.__init__

    def guarded_init(self, args, *rest, **kwargs):
        argv = [str(a) for a in args] if isinstance(args, (list, tuple)) else [str(args)]
        for flag, module in zip(argv, argv[1:]):
            if flag == "-m" and module.split(".")[0] == "tuirecipe":
                refuse(f"start `python -m {module}`")()
        original_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_init)
    monkeypatch.setattr(App, "run_test", refuse("run a Textual app"))
    monkeypatch.setattr(App, "run", refuse("run a Textual app"))
    monkeypatch.setattr(os, "openpty", refuse("open a pseudo-terminal"))
