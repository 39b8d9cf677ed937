"""Resume checkpoints: everything a training run needs to continue as if never interrupted.

:class:`ResumeCheckpoint` (a callback, ``train.checkpoint_every``) writes ``resume.pt`` to
the run directory every N optimizer steps or every so many minutes, after the step's
evaluation, and once more when the run is stopped on request. It holds the model,
optimizer, scheduler and GradScaler (when the trainer has one) states; the torch (CPU and
CUDA), numpy and python random states and the trainer's data-order generator; the data
position (epoch, batches done in it, the generator's state when its shuffle was drawn);
the step, the elapsed time and examples seen; the evaluations (last, best, the monitor's
state) and every callback's state (early stopping's count, the best weights behind
``best.pt``). It is written atomically (temporary file, fsync, rename), then
``resume.json`` beside it (step, epoch, size, sha256), which lets a process without torch
(the console, ``tuirecipe resume``) tell a damaged checkpoint before starting a worker
(:mod:`tuirecipe.runs.resume`). A run that finishes removes both: it cannot be resumed.

:func:`restore` loads the file into a freshly prepared trainer (same config, same data)
and emits a :class:`~tuirecipe.events.Resumed` event, so readers drop the step events the
interrupted worker wrote past the checkpoint. Continuing from it gives the very losses of
an uninterrupted run with the same seed (on the same device and thread count).
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tuirecipe.config import checkpoint_interval
from tuirecipe.errors import UserError
from tuirecipe.events import Log, Resumed
from tuirecipe.fileio import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.train.trainer import Trainer

RESUME_FILE = "resume.pt"
RESUME_INFO = "resume.json"
FORMAT = 1


class ResumeError(UserError):
    """A resume checkpoint that cannot be used (missing, damaged, another run's)."""


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _callback_key(callback: Any, index: int) -> str:
    return f"{index}:{type(callback).__name__}"


def checkpoint_state(trainer: Trainer, *, epoch_done: bool = False) -> dict[str, Any]:
    """Everything :func:`restore` needs, as plain values and CPU tensors.

    ``epoch_done``: the epoch's end (its evaluation and ``on_epoch_end``) has run, so a
    resumed run starts the next epoch (with the generator as it is now).
    """
    epoch, position, epoch_rng = trainer.epoch, trainer.position, trainer.epoch_rng
    if epoch_done:
        epoch, position, epoch_rng = epoch + 1, 0, trainer.generator.get_state()
    scaler = getattr(getattr(trainer, "execution", None), "scaler", None)
    log = getattr(trainer, "log", None)
    if log is not None:
        log.flush()  # tokens of pending steps (read in blocks off the CPU) are counted here
    return {
        "format": FORMAT,
        "model": {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": _rng_state(),
        "trainer": {
            "step": trainer.step,
            "epoch": epoch,
            "position": position,
            "epoch_rng": epoch_rng,
            "generator": trainer.generator.get_state(),
            "last_eval": trainer.last_eval,
            "best_eval": trainer.best_eval,
            "last_eval_step": trainer._last_eval_step,
            "improved": trainer.improved,
            "elapsed": trainer.elapsed(),
            "examples": log.examples if log is not None else 0,
            "tokens": log.tokens if log is not None else 0,
            "steps_per_epoch": trainer.steps_per_epoch,
        },
        "callbacks": {
            _callback_key(cb, i): cb.state_dict()
            for i, cb in enumerate(trainer.callbacks)
            if callable(getattr(cb, "state_dict", None))
        },
    }


def save(trainer: Trainer, folder: Path, *, epoch_done: bool = False) -> dict[str, Any]:
    """Write ``resume.pt`` then ``resume.json`` atomically; returns the info written."""
    log = getattr(trainer, "log", None)
    if log is not None:  # every step up to this one is in events.jsonl before the file
        log.flush()
    buffer = io.BytesIO()
    torch.save(checkpoint_state(trainer, epoch_done=epoch_done), buffer)
    data = buffer.getvalue()
    atomic_write_bytes(Path(folder) / RESUME_FILE, data)
    info = {
        "format": FORMAT,
        "step": trainer.step,
        "epoch": trainer.step / trainer.steps_per_epoch,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "t": time.time(),
    }
    text = json.dumps(info, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(Path(folder) / RESUME_INFO, text.encode("utf-8"))
    return info


class ResumeCheckpoint:
    """``resume.pt`` every ``every`` (``train.checkpoint_every``: steps, or a duration such
    as ``"10m"``) and when the run is stopped; removed when the run finishes.

    Register it before :class:`~tuirecipe.train.callbacks.Checkpoints`, whose train end
    may load the best weights into the model.
    """

    def __init__(self, folder: Path, every: int | str) -> None:
        self.folder = Path(folder)
        self.steps, self.seconds = checkpoint_interval(every)
        self.last_saved = time.monotonic()

    def on_step_end(self, trainer: Trainer) -> None:
        if self.steps:
            due = trainer.step % self.steps == 0
        else:
            due = bool(self.seconds) and time.monotonic() - self.last_saved >= self.seconds
        if due:
            save(trainer, self.folder)
            self.last_saved = time.monotonic()

    def on_train_end(self, trainer: Trainer) -> None:
        if trainer.end_state == "stopped":
            batches = -(-len(trainer.train_tensors) // trainer.cfg.batch_size)
            save(trainer, self.folder, epoch_done=trainer.position >= batches)
        elif trainer.end_state == "finished":
            for name in (RESUME_INFO, RESUME_FILE):  # the info first: never one without the other
                (self.folder / name).unlink(missing_ok=True)


def load(folder: Path) -> dict[str, Any]:
    """``resume.pt`` from ``folder``, read safely (``weights_only``); a missing or damaged
    file is a :class:`ResumeError` naming it."""
    path = Path(folder) / RESUME_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ResumeError(
            "no resume checkpoint: the run did not set train.checkpoint_every", source=str(path)
        ) from None
    info = _read_info(Path(folder) / RESUME_INFO)
    if info.get("sha256") and info["sha256"] != hashlib.sha256(data).hexdigest():
        raise ResumeError(
            "the resume checkpoint is damaged (its sha256 differs from resume.json's)",
            source=str(path),
        )
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read it is "damaged"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ResumeError(f"the resume checkpoint is damaged ({first})", source=str(path)) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ResumeError("not a resume checkpoint of this tuirecipe version", source=str(path))
    return state


def _read_info(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def restore(trainer: Trainer, state: dict[str, Any]) -> None:
    """Put ``state`` (from :func:`load`) into ``trainer``, built from the run's own config
    and data, and record the resume: a ``resumed`` event and a log line."""
    where = f"{RESUME_FILE} of this run"
    own = state["trainer"]
    if own.get("steps_per_epoch") != trainer.steps_per_epoch:
        raise ResumeError(
            f"{where} was written for {own.get('steps_per_epoch')} steps per epoch, the "
            f"data and config now give {trainer.steps_per_epoch}: the data or the batch "
            "settings changed since the run started"
        )
    try:
        trainer.model.load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        if state["scheduler"] is not None and trainer.scheduler is not None:
            trainer.scheduler.load_state_dict(state["scheduler"])
        scaler = getattr(getattr(trainer, "execution", None), "scaler", None)
        if state["scaler"] is not None and scaler is not None:
            scaler.load_state_dict(state["scaler"])
    except (RuntimeError, ValueError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ResumeError(f"{where} does not fit the run's model: {first}") from None
    trainer.step, trainer.epoch, trainer.position = own["step"], own["epoch"], own["position"]
    trainer.epoch_rng = own["epoch_rng"]
    trainer.generator.set_state(own["generator"])
    trainer.last_eval, trainer.best_eval = own["last_eval"], own["best_eval"]
    trainer._last_eval_step, trainer.improved = own["last_eval_step"], own["improved"]
    # "tokens": absent from a checkpoint written before it was kept (counts from 0 then)
    trainer.resumed = (float(own["elapsed"]), int(own["examples"]), int(own.get("tokens", 0)))
    saved = state["callbacks"]
    for i, callback in enumerate(trainer.callbacks):
        key = _callback_key(callback, i)
        if key in saved and callable(getattr(callback, "load_state_dict", None)):
            callback.load_state_dict(saved[key])
    _set_rng_state(state["rng"])
    epoch = trainer.step / trainer.steps_per_epoch
    trainer.emit(Resumed(step=trainer.step, epoch=epoch, checkpoint=RESUME_FILE))
    trainer.emit(
        Log(
            message=f"resumed from {RESUME_FILE} at step {trainer.step} (epoch {epoch:.2f}); "
            "step events written after it by the interrupted worker are superseded"
        )
    )
