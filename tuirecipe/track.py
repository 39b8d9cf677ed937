"""Tracking a training loop tuirecipe did not start: your own script, run directory and all.

::

    import tuirecipe.track

    with tuirecipe.track.start(name="mlp", config={"lr": 1e-3}, motivation="baseline") as run:
        for step in range(1, 1001):
            loss = train_step()
            run.log(step, train_loss=loss, lr=1e-3)
            if step % 100 == 0:
                run.log(step, dev_loss=dev_loss, dev_acc=dev_acc)
        run.note("loss still falling at the end: train longer")

The run directory is the one a worker writes (DESIGN.md §2): ``config.toml``, ``meta.json``
(code commit and diff, data file hash), ``events.jsonl``, ``status.json``, ``notes.md``, so
``tuirecipe runs``, ``attach``, ``compare`` and the console show it like any other run.

Metric names are mapped onto the events the console draws (:func:`split_metric`): train
``loss``/``train_loss`` (with ``lr``, ``acc``, ``epoch`` beside it) become step metrics;
``dev_*``, ``val_*``, ``valid_*``, ``validation_*`` and ``eval_*`` names a dev evaluation
(``val_accuracy`` is dev ``acc``); ``test_*`` a test evaluation; any other name is kept
in a ``metrics`` event (an unknown type to older readers, which skip it).

Cost and safety: :meth:`Run.log` only appends to an in-memory queue (about a microsecond);
a daemon thread turns the queue into events and appends them a few times a second
(:data:`FLUSH_SECONDS`), and :meth:`Run.finish` or the interpreter's exit writes the rest.
Nothing after :func:`start` raises into the training loop: a full disk or any other
failure to record becomes one warning, and the loop goes on.

The status names the process as a worker's does (pid, its start time, host), so a script
killed (SIGKILL, out of memory) or crashed in native code is seen as a dead worker by the
readers: the run shows failed at its last step. An exception that ends the script is
recorded as the failure (inside ``with``, or uncaught at exit); Ctrl-C as stopped.

This module imports neither torch nor the console's libraries.
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import os
import platform
import socket
import sys
import threading
import time
import tomllib
import traceback
import warnings
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuirecipe import __version__
from tuirecipe.errors import RunError, UserError
from tuirecipe.events import (
    Error,
    EvalMetrics,
    Event,
    Log,
    PredictionsSnapshot,
    RunStatus,
    StepMetrics,
    TrackedMetrics,
)
from tuirecipe.runs.rundir import (
    RUN_ID_RE,
    EventWriter,
    RunDir,
    atomic_write_json,
    atomic_write_text,
    create_run_dir,
)

FLUSH_SECONDS = 0.2  # queued metrics reach events.jsonl at most this late
STATUS_SECONDS = 2.0  # status.json's step is brought up to date at most this often
TRACEBACK_TAIL_LINES = 25
END_STATES = ("finished", "failed", "stopped")

DEV_PREFIXES = ("dev", "val", "valid", "validation", "eval")
TEST_PREFIXES = ("test",)
TRAIN_PREFIXES = ("train", "training")
METRIC_ALIASES = {"accuracy": "acc", "learning_rate": "lr", "global_step": "step"}
# Per-step train figures that ride on the step event beside the loss.
STEP_FIELDS = ("loss", "acc", "lr", "epoch")
# How fast, not how well: kept as logged, never taken for an evaluation's figures.
SPEED_WORDS = ("runtime", "per_second", "flos")


@functools.lru_cache(maxsize=4096)  # a loop logs the same few names again and again
def split_metric(name: str) -> tuple[str, str]:
    """``(split, metric)`` for a logged name: ``"val_accuracy"`` → ``("dev", "acc")``,
    ``"train/loss"`` → ``("train", "loss")``, ``"loss"`` → ``("train", "loss")``.

    Separators ``/ - . space`` count as ``_``; a split word may come first or last
    (``"loss/val"``); Lightning's ``_step`` suffix (the per-step value) is dropped and its
    ``_epoch`` kept (an epoch average is another figure than the step's). Speed figures
    (``eval_runtime``, ``train_samples_per_second``, ``total_flos``) keep their own name
    and are no split's metric."""
    parts = [
        p
        for p in name.lower()
        .replace("/", "_")
        .replace("-", "_")
        .replace(".", "_")
        .replace(" ", "_")
        .split("_")
        if p
    ]
    if not parts:
        return "train", name
    split = "train"
    for words, which in ((DEV_PREFIXES, "dev"), (TEST_PREFIXES, "test"), (TRAIN_PREFIXES, "train")):
        if len(parts) > 1 and parts[0] in words:
            split, parts = which, parts[1:]
            break
        if len(parts) > 1 and parts[-1] in words:
            split, parts = which, parts[:-1]
            break
    if len(parts) > 1 and parts[-1] == "step":
        parts = parts[:-1]
    metric = "_".join(parts)
    if metric.endswith(SPEED_WORDS):
        return "train", name
    return split, METRIC_ALIASES.get(metric, metric)


def _number(value: Any) -> float | None:
    """``value`` as a float (a Python or NumPy number, a one-element tensor), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


class Run:
    """One tracked run: log metrics, predictions and notes; finish it (or let exit do it).

    Made by :func:`start`. Every method may be called from the training loop: none of
    them raises; a failure to record becomes one ``RuntimeWarning``.
    """

    def __init__(
        self,
        run_dir: RunDir,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        background: bool = True,
        started: float | None = None,
    ) -> None:
        self.dir = run_dir
        self.id = run_dir.id
        self.path = run_dir.path
        self.state = "running"
        self.flush_seconds = float(flush_seconds)
        self._queue: deque[tuple[str, float, Any, Any]] = deque()
        self._flush_lock = threading.Lock()
        self._pid = os.getpid()
        self._t0 = time.time() if started is None else started
        self._warned = False
        self._last_step = 0
        self._status_step = 0
        self._status_time = 0.0
        self._epoch = 0.0
        self._lr = math.nan
        self._examples = 0
        self._writer: EventWriter | None = None
        try:
            self._writer = EventWriter(run_dir.events_path)
        except OSError as exc:
            self._warn(exc)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._flush_loop, name=f"tuirecipe-track-{self.id}", daemon=True
            )
            self._thread.start()
        atexit.register(self._at_exit)

    # -- what the loop calls ---------------------------------------------------------------
    def log(self, step: int, **metrics: Any) -> None:
        """Record ``metrics`` (any names; numbers, NumPy numbers or one-element tensors)
        at ``step``. Queued: written within :attr:`flush_seconds`; a tensor is read then
        (a GPU tensor's ``.item()`` is left to the background thread)."""
        if self.state == "running" and os.getpid() == self._pid:  # not in a forked child
            for name, value in metrics.items():
                if type(value) is not float and getattr(value, "requires_grad", False):
                    # A loss tensor keeps its whole graph (the activations) alive while
                    # queued: keep the number only.
                    metrics[name] = value.detach()
            self._queue.append(("log", time.time(), step, metrics))

    def log_predictions(self, step: int, rows: list[Mapping[str, Any]]) -> None:
        """Predictions on a few dev examples at ``step``: each row a mapping with
        ``text``, ``label``, ``pred`` and optionally ``prob`` and ``index`` (shown in the
        console's predictions view)."""
        if self.state == "running":
            self._queue.append(("predictions", time.time(), step, list(rows)))

    def note(self, text: str) -> None:
        """Append ``text`` to the run's ``notes.md`` (at once, atomically)."""
        try:
            current = self.dir.read_notes()
            joiner = "" if not current or current.endswith("\n") else "\n"
            atomic_write_text(self.dir.notes_path, f"{current}{joiner}{str(text).rstrip()}\n")
        except Exception as exc:  # noqa: BLE001 - never into the user's loop
            self._warn(exc)

    def set_config(self, config: Mapping[str, Any]) -> None:
        """Replace the run's ``config.toml`` with ``config`` (a framework hands its
        settings over after the run began)."""
        from tuirecipe.config import dumps_toml

        try:
            atomic_write_text(self.dir.config_path, dumps_toml(_plain_toml(config)))
        except Exception as exc:  # noqa: BLE001 - never into the user's loop
            self._warn(exc)

    def flush(self) -> None:
        """Write everything queued now (also done by the thread, ``finish`` and exit)."""
        if os.getpid() != self._pid:  # a forked child (a data loader worker) never writes
            return
        with self._flush_lock:
            try:
                self._write_queued()
            except Exception as exc:  # noqa: BLE001 - never into the user's loop
                self._warn(exc)

    def finish(self, state: str = "finished", message: str = "", *, error: str = "") -> None:
        """End the run as ``state`` (finished, failed or stopped) with ``message``; with
        ``error`` (a traceback's tail) an error event too. A second call does nothing."""
        if self.state != "running" or os.getpid() != self._pid:
            return
        if state not in END_STATES:
            self._warn(ValueError(f"unknown end state {state!r}; recorded as failed"))
            state, message = "failed", message or f"ended with the unknown state {state!r}"
        self.flush()
        self.state = state
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._flush_lock:
            try:
                events: list[Event] = []
                if state == "failed":
                    events.append(Error(message=message, traceback=error, step=self._last_step))
                events.append(RunStatus(state=state, message=message, step=self._last_step))
                if self._writer is not None:
                    self._writer.write_many(events)
            except Exception as exc:  # noqa: BLE001
                self._warn(exc)
            try:
                self.dir.write_status(
                    state=state, message=message, step=self._last_step, ended=time.time()
                )
            except Exception as exc:  # noqa: BLE001
                self._warn(exc)
            if self._writer is not None:
                try:
                    self._writer.close()
                except OSError as exc:
                    self._warn(exc)
        try:
            atexit.unregister(self._at_exit)
        except Exception:  # noqa: BLE001 - interpreter shutting down
            pass

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self.finish("finished")
        else:
            self.finish_with(exc)

    # -- inside ------------------------------------------------------------------------------
    def finish_with(self, exc: BaseException) -> None:
        """End the run for ``exc``: Ctrl-C is stopped, ``SystemExit(0)`` finished, anything
        else failed with its first line (and the traceback's tail in an error event)."""
        if isinstance(exc, KeyboardInterrupt):
            self.finish("stopped", "interrupted (Ctrl-C)")
            return
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            self.finish("finished")
            return
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
        tail = "\n".join("".join(lines).rstrip().splitlines()[-TRACEBACK_TAIL_LINES:])
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        self.finish("failed", message, error=tail)

    def _at_exit(self) -> None:
        """The interpreter is exiting without ``finish``: an uncaught exception (Python
        sets ``sys.last_value`` when it prints one) is the failure, else it finished."""
        if self.state != "running":
            return
        uncaught = getattr(sys, "last_value", None)
        if isinstance(uncaught, BaseException):
            self.finish_with(uncaught)
        else:
            self.finish("finished")

    def _warn(self, exc: BaseException) -> None:
        if self._warned:
            return
        self._warned = True
        try:
            warnings.warn(
                f"tuirecipe.track: run {self.id}: {exc}; the run record may be incomplete "
                "(training goes on; this warning is given once)",
                RuntimeWarning,
                stacklevel=3,
            )
        except Exception:  # noqa: BLE001 - warnings turned into errors by the user
            pass

    def _flush_loop(self) -> None:
        while self.state == "running":
            self._wake.wait(self.flush_seconds)
            if self.state != "running":
                break
            if self._queue or time.time() - self._status_time > STATUS_SECONDS:
                self.flush()

    def _write_queued(self) -> None:
        lines: list[str] = []
        queue = self._queue
        while queue:
            kind, t, step, payload = queue.popleft()
            try:
                at = int(step)
            except (TypeError, ValueError):
                self._warn(ValueError(f"step {step!r} is not a whole number; not recorded"))
                continue
            if kind == "predictions":
                rows = [self._prediction_row(i, row) for i, row in enumerate(payload)]
                lines.append(PredictionsSnapshot(step=at, rows=rows, t=t).to_json())
            else:
                self._lines_for(lines, t, at, payload)
            if at > self._last_step:
                self._last_step = at
        if lines and self._writer is not None:
            self._writer.write_lines(lines)
        now = time.time()
        if self._last_step != self._status_step and now - self._status_time > STATUS_SECONDS:
            # The step a reader names if this process dies without a word.
            self._status_time, self._status_step = now, self._last_step
            self.dir.write_status(step=self._last_step)

    @staticmethod
    def _prediction_row(i: int, row: Mapping[str, Any]) -> dict[str, Any]:
        out = {str(k): v for k, v in dict(row).items()}
        out.setdefault("index", i)
        for key in ("text", "label", "pred"):
            out[key] = str(out.get(key, ""))
        prob = _number(out.get("prob")) if out.get("prob") is not None else None
        if prob is None:
            out.pop("prob", None)  # the view then shows the prediction alone
        else:
            out["prob"] = prob
        if "correct" not in out and out["label"] and out["pred"]:
            out["correct"] = out["label"] == out["pred"]
        return out

    def _lines_for(self, lines: list[str], t: float, step: int, metrics: Mapping[str, Any]) -> None:
        """Append the event lines for one ``log`` call to ``lines``."""
        train: dict[str, float] = {}
        evals: dict[str, dict[str, float]] = {}
        other: dict[str, float] = {}
        for name, value in metrics.items():
            number = value if type(value) is float else _number(value)
            if number is None:
                self._warn(ValueError(f"metric {name!r} = {value!r} is not a number"))
                continue
            split, metric = split_metric(name)
            if metric == "epoch":
                self._epoch = number
            elif metric in ("examples", "samples"):
                self._examples = int(number)
            elif split == "train" and metric in STEP_FIELDS:
                train[metric] = number
            elif split != "train":
                evals.setdefault(split, {})[metric] = number
            else:
                other[name] = number
        if "lr" in train:
            self._lr = train["lr"]
        if "loss" in train:
            lines.append(
                step_line(
                    t,
                    step=step,
                    epoch=self._epoch,
                    loss=train["loss"],
                    lr=self._lr,
                    acc=train.get("acc"),
                    examples=self._examples,
                    elapsed=max(0.0, t - self._t0),
                )
            )
        else:  # an lr or acc without a loss: kept, but no point on the loss curve
            other.update({k: v for k, v in train.items() if k != "lr"})
        for split, values in evals.items():
            event = EvalMetrics(step=step, epoch=self._epoch, split=split, metrics=values, t=t)
            lines.append(event.to_json())
        if other:
            lines.append(TrackedMetrics(step=step, values=other, t=t).to_json())


_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def step_line(
    t: float,
    *,
    step: int,
    epoch: float,
    loss: float,
    lr: float,
    acc: float | None,
    examples: int,
    elapsed: float,
) -> str:
    """``StepMetrics(...).to_json()``, built without the dataclass: a tracked loop logs a
    step every few microseconds, and the generic form costs several of them. Falls back
    to the event's own form when a figure is not finite (its null-and-map encoding)."""
    body = {
        "t": t,
        "type": StepMetrics.kind,
        "step": step,
        "epoch": epoch,
        "loss": loss,
        "lr": lr,
        "acc": acc,
        "examples": examples,
        "elapsed": elapsed,
        "tokens": 0,  # a tracked loop's tokens are not known (0: not recorded)
    }
    try:
        return _ENCODE(body)
    except ValueError:
        event = StepMetrics(
            step=step,
            epoch=epoch,
            loss=loss,
            lr=lr,
            acc=acc,
            examples=examples,
            elapsed=elapsed,
            t=t,
        )
        return event.to_json()


# ---------------------------------------------------------------------------------------
# starting a run


def _plain_toml(value: Any) -> Any:
    """``value`` as something TOML can hold: None dropped (by the caller), tuples and sets
    as lists, paths and other objects as their text."""
    if isinstance(value, Mapping):
        return {str(k): _plain_toml(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain_toml(v) for v in value if v is not None]
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    number = _number(value) if type(value).__module__.startswith("numpy") else None
    return number if number is not None else str(value)


def read_config_file(path: Path) -> dict[str, Any]:
    """A TOML or JSON config file as a table; a bad file is a :class:`UserError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the config: {exc}", source=str(path)) from None
    try:
        table = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"not a valid config file: {exc}", source=str(path)) from None
    if not isinstance(table, dict):
        raise UserError("the config must be a table of keys", source=str(path))
    return table


def _config_table(config: Mapping[str, Any] | str | os.PathLike[str] | None) -> tuple[dict, str]:
    if config is None:
        return {}, "<none>"
    if isinstance(config, Mapping):
        return dict(config), "<dict>"
    path = Path(config).expanduser()
    return read_config_file(path), str(path.resolve())


def _data_fingerprint(data: str | os.PathLike[str]) -> dict[str, Any]:
    from tuirecipe.checks.fingerprint import file_digest

    path = Path(data).expanduser().resolve()
    if path.is_dir():
        return {"path": str(path), "sha256": None, "note": "a folder: not hashed"}
    try:
        return {"path": str(path), "sha256": file_digest(path), "bytes": path.stat().st_size}
    except OSError as exc:
        raise UserError(f"cannot read the data file: {exc.strerror or exc}", source=str(path))


def _script_folder() -> Path:
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return Path(main).resolve().parent if main else Path.cwd()


def _default_name() -> str:
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    stem = Path(main).stem if main else "track"
    return stem if RUN_ID_RE.match(stem) else "track"


def start(
    name: str | None = None,
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    motivation: str = "",
    runs_dir: str | os.PathLike[str] = "runs",
    data: str | os.PathLike[str] | None = None,
    *,
    parent: str | None = None,
    code_dir: str | os.PathLike[str] | None = None,
    job: str = "track",
    source: str | None = None,
    total_steps: int | None = None,
    flush_seconds: float = FLUSH_SECONDS,
) -> Run:
    """Create a run directory under ``runs_dir`` for this process's training and return
    the :class:`Run` that fills it.

    ``config``: a dict, or a TOML / JSON file, written as the run's ``config.toml``.
    ``data``: a data file whose sha256 goes to ``meta.json``. ``parent``: the id of the run
    this one changes (its config keys changed are recorded). ``code_dir``: where the code
    is (its git commit and uncommitted diff are recorded; default: the script's folder).
    ``total_steps``: how many steps the loop will make, when known (progress bars).

    Bad arguments (a name that is not a run name, an unreadable config or data file, a
    runs directory that cannot be written) raise :class:`~tuirecipe.errors.UserError`
    here, before training starts; nothing after this does.
    """
    from tuirecipe.config import diff_configs, dumps_toml
    from tuirecipe.runs.jobs import worker_identity
    from tuirecipe.runs.launch import code_fingerprint

    name = name or _default_name()
    table, config_source = _config_table(config)
    plain = _plain_toml(table)
    fingerprint = _data_fingerprint(data) if data is not None else None
    run_dir = create_run_dir(Path(runs_dir).expanduser(), name)
    folder = Path(code_dir).expanduser().resolve() if code_dir else _script_folder()
    try:
        atomic_write_text(run_dir.config_path, dumps_toml(plain))
        code, diff = code_fingerprint(folder)
        if diff:
            atomic_write_text(run_dir.path / "code.diff", diff)
        changed: dict[str, Any] = {}
        if parent:
            parent_config = run_dir.path.parent / parent / "config.toml"
            try:
                before = tomllib.loads(parent_config.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                raise RunError(f"no run '{parent}' to be the parent", source=str(runs_dir))
            changed = {k: list(v) for k, v in diff_configs(before, plain).items()}
        versions = {"python": platform.python_version(), "tuirecipe": __version__}
        for module in ("torch", "lightning", "transformers"):
            version = getattr(sys.modules.get(module), "__version__", None)
            if version:
                versions[module] = str(version)
        now = time.time()
        meta: dict[str, Any] = {
            "id": run_dir.id,
            "name": name,
            "job": job,
            "created": now,
            "config_source": config_source,
            "config_dir": str(folder),
            "seed": plain.get("seed") if isinstance(plain.get("seed"), int) else None,
            "versions": versions,
            "host": socket.gethostname(),
            "code": code,
            "code_diff": "code.diff" if diff else None,
            "parent": parent,
            "changed": changed,
            "motivation": motivation,
            "edits": None,
            "args": {},
            "tracked": {"argv": [str(a) for a in sys.argv[:32]], "cwd": os.getcwd()},
        }
        if source is not None:
            meta["source"] = source
        if fingerprint is not None:
            meta["data"] = fingerprint
        atomic_write_json(run_dir.meta_path, meta)
        run_dir.write_status(
            state="running",
            step=0,
            job=job,
            run=run_dir.id,
            started=now,
            message="",
            **({"total_steps": int(total_steps)} if total_steps else {}),
            **worker_identity(),
        )
        writer = EventWriter(run_dir.events_path)
        try:
            writer.write(RunStatus(state="running", step=0))
            if source is not None:
                writer.write(Log(message=f"following {source}"))
        finally:
            writer.close()
    except BaseException as exc:
        # A run directory is complete or absent (as tuirecipe.runs.launch makes them).
        import shutil

        shutil.rmtree(run_dir.path, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, UserError):
            raise RunError(f"cannot write the run directory: {exc}", source=str(run_dir.path))
        raise
    return Run(run_dir, flush_seconds=flush_seconds, started=now)
