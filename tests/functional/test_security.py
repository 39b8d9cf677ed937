"""Nobody gets in (issue 6, point 7): no listener, no path escapes, config is data, and
user code runs only when named as ``module:function``.

Each check drives the real CLI and worker processes. The socket check is first shown to
catch a listener this test opens itself, so it cannot pass by looking at nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO_ROOT, SUPPORT
from support.cli import run_tuirecipe as tuirecipe
from support.waiting import wait_until

from tuirecipe.errors import RunError
from tuirecipe.runs import RunDir, list_runs
from tuirecipe.runs.rundir import create_run_dir, open_run_dir

TESTS = SUPPORT  # bad_inputs/
REPO = REPO_ROOT
PAYLOAD = "__import__('os').system('touch PWNED')"


def with_good_data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(TESTS / "bad_inputs" / "good.csv", folder / "good.csv")
    return folder


def no_traceback_one_error(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    errors = [l for l in result.stderr.splitlines() if l.startswith("tuirecipe: error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# ---------------------------------------------------------------------------------------
# no network listener


def _inet_socket_inodes() -> dict[str, str]:
    """inode → table name for every TCP/UDP/raw inet socket visible in this namespace."""
    found: dict[str, str] = {}
    for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9:
                found[fields[9]] = table
    return found


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return sorted(set(out))


def inet_sockets_of(pid: int) -> list[str]:
    """``["tcp inode 1234 (pid 5)", …]``: inet sockets held by ``pid`` or its children."""
    tables = _inet_socket_inodes()
    held = []
    for p in _descendants(pid):
        for fd in Path(f"/proc/{p}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = target[len("socket:[") : -1]
                if inode in tables:
                    held.append(f"{tables[inode]} inode {inode} (pid {p})")
    return held


def test_the_socket_probe_sees_a_listener() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert any(s.startswith("tcp ") for s in inet_sockets_of(os.getpid()))
    with socket.socket(
        socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET, socket.SOCK_DGRAM
    ) as udp:
        udp.bind(("::1" if socket.has_ipv6 else "127.0.0.1", 0))
        assert any(s.startswith("udp") for s in inet_sockets_of(os.getpid()))


def test_a_training_run_opens_no_network_socket(tmp_path: Path) -> None:
    folder = with_good_data(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuirecipe",
            "train",
            "--set",
            "data.path=good.csv",
            "--set",
            "model.name=fasttext",
            "--set",
            "train.epochs=100000",
            "--set",
            "train.batch_size=8",
            "-q",
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def training() -> bool:  # everything the worker loads is loaded once it trains
            runs = list_runs(folder / "runs") if (folder / "runs").is_dir() else []
            if runs and sum(e.kind == "step" for e in RunDir(Path(runs[0].path)).events()) >= 5:
                return True
            assert cli.poll() is None, "the CLI ended before training started"
            return False

        wait_until(training, 120, "five training steps")
        run = RunDir(Path(list_runs(folder / "runs")[0].path))
        worker = run.read_status()["pid"]
        assert worker in _descendants(worker) and worker != cli.pid
        assert inet_sockets_of(worker) == []
        assert inet_sockets_of(cli.pid) == []
    finally:
        cli.send_signal(signal.SIGINT)  # the CLI stops the run cleanly
        cli.communicate(timeout=60)
    assert cli.returncode == 130


# ---------------------------------------------------------------------------------------
# run names and ids stay inside the runs directory


@pytest.mark.parametrize(
    "name", ["../../x", "..", "a/b", "/etc/x", ".hidden", "x" * 200, "a\\..\\b", "run\nname"]
)
def test_run_names_cannot_escape_the_runs_directory(name: str, tmp_path: Path) -> None:
    runs = tmp_path / "sandbox" / "runs"
    with pytest.raises(RunError):
        create_run_dir(runs, name)
    assert not any(p.name.endswith("x") for p in tmp_path.rglob("*"))


def test_cli_refuses_an_escaping_run_name(tmp_path: Path) -> None:
    folder = with_good_data(tmp_path / "work")
    result = tuirecipe(
        "train", "--set", "data.path=good.csv", "--set", "name=../../x", cwd=folder, timeout=60
    )
    assert result.returncode == 2
    assert "'../../x' is not a valid run name" in no_traceback_one_error(result)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["good.csv", "work"]


@pytest.mark.parametrize("run_id", ["../../etc", "..", "../runs", "/etc", "*", "a/../../b"])
def test_attach_refuses_ids_outside_the_runs_directory(run_id: str, tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "status.json").write_text('{"state": "finished"}')
    with pytest.raises(RunError):
        open_run_dir(tmp_path / "runs", run_id)
    result = tuirecipe("attach", run_id, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    no_traceback_one_error(result)


# ---------------------------------------------------------------------------------------
# the config is data


def test_code_in_a_config_is_never_run(tmp_path: Path) -> None:
    folder = with_good_data(tmp_path)
    shutil.copy(TESTS / "bad_inputs" / "config_injection.toml", folder)
    shutil.copy(TESTS / "bad_inputs" / "config_injection_strings.toml", folder)
    refused = tuirecipe("train", "config_injection.toml", cwd=folder, timeout=60)
    assert refused.returncode == 2 and "is not a valid run name" in no_traceback_one_error(refused)
    for key in ("train.lr", "seed", "data.max_len"):
        result = tuirecipe(
            "train",
            "--set",
            "data.path=good.csv",
            "--set",
            f"{key}={PAYLOAD}",
            cwd=folder,
            timeout=60,
        )
        assert result.returncode == 2 and "must be" in no_traceback_one_error(result)
    missing = tuirecipe("data", "--set", f"data.path={PAYLOAD}", cwd=folder, timeout=60)
    assert missing.returncode == 2 and "file not found" in no_traceback_one_error(missing)
    ran = tuirecipe(
        "train",
        "config_injection_strings.toml",
        "--set",
        "train.max_steps=2",
        "-m",
        PAYLOAD,
        "-q",
        cwd=folder,
    )
    assert ran.returncode == 0, ran.stderr
    (run,) = list_runs(folder / "runs")
    assert PAYLOAD in (Path(run.path) / "config.toml").read_text()  # kept as a string
    assert RunDir(Path(run.path)).read_meta()["motivation"] == PAYLOAD
    assert not list(tmp_path.rglob("PWNED")) and not (Path(run.path) / "PWNED").exists()


def test_the_config_loader_has_no_eval() -> None:
    import re

    source = (REPO / "tuirecipe" / "config.py").read_text()
    assert not re.search(r"(?<![.\w])(eval|exec|compile)\(", source)  # re.compile is fine
    for word in ("literal_eval", "__import__", "pickle", "importlib"):
        assert word not in source


# ---------------------------------------------------------------------------------------
# user code runs only when named


def _user_folder(folder: Path) -> Path:
    code = folder / "usercode"
    code.mkdir(parents=True)
    marker = "import pathlib; pathlib.Path({!r}).write_text('imported')\n"
    for name in ("sitecustomize", "usercustomize", "other", "fasttext", "tuirecipe_plugin"):
        (code / f"{name}.py").write_text(marker.format(str(folder / f"RAN-{name}")))
    (code / "mymodel.py").write_text(
        marker.format(str(folder / "RAN-mymodel"))
        + "from torch import nn\n\n\nclass M(nn.Module):\n"
        "    def __init__(self, spec):\n        super().__init__()\n"
        "        self.emb = nn.Embedding(spec.vocab_size, 8)\n"
        "        self.out = nn.Linear(8, spec.num_outputs)\n\n"
        "    def forward(self, ids, mask):\n        return self.out(self.emb(ids).mean(1))\n\n\n"
        "def build(spec):\n    return M(spec)\n"
    )
    return code


def ran(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("RAN-*"))


def test_user_code_is_imported_only_from_the_named_module(tmp_path: Path) -> None:
    folder = with_good_data(tmp_path)
    _user_folder(folder)
    # the config sits in the user-code folder too (its folder goes on sys.path)
    (folder / "usercode" / "good.csv").write_text((folder / "good.csv").read_text())
    config = folder / "usercode" / "run.toml"
    config.write_text(
        '[data]\npath = "good.csv"\n\n[model]\nname = "mymodel:build"\n'
        'python_path = ["."]\n\n[train]\nmax_steps = 2\n'
    )
    result = tuirecipe("train", str(config), "-q", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert ran(folder) == ["RAN-mymodel"]


def test_a_builtin_model_imports_nothing_from_python_path(tmp_path: Path) -> None:
    folder = with_good_data(tmp_path)
    code = _user_folder(folder)
    result = tuirecipe(
        "train",
        "--set",
        "data.path=good.csv",
        "--set",
        "model.name=fasttext",
        "--set",
        f'model.python_path=["{code}"]',
        "--set",
        "train.max_steps=2",
        "-q",
        cwd=folder,
    )
    assert result.returncode == 0, result.stderr
    assert ran(folder) == []
