"""Data-parallel training over several processes (``train.gpus = N``, ``--gpus N``).

The job client starts ``python -m torch.distributed.run --standalone --nproc-per-node N
-m tuirecipe.worker RUN_DIR`` (torchrun ships with torch) instead of one worker; each of
the N processes (ranks) runs the same train job on its own device, wrapped in PyTorch's
``DistributedDataParallel``:

- **Backend.** NCCL with one GPU per rank (``cuda:LOCAL_RANK``) when ``train.device`` is
  ``auto`` or ``cuda``; gloo on the CPU when ``train.device = "cpu"`` is set explicitly —
  slower than one process on most machines, it is how the multi-process path is tested
  without a GPU. Asking for N GPUs where there are fewer is a one-line error.
- **Data.** ``train.batch_size`` is the batch of a whole step, split evenly between the
  N processes (B/N rows each; it must divide), so ``train.gpus`` changes how fast a run
  goes, not what it learns: it is an execution setting (``meta.json`` ``execution``,
  ignored by run comparisons). Each epoch every rank draws the same seeded permutation and
  takes every N-th row of it from its rank on (:func:`shard_order`, what
  ``DistributedSampler`` does, padded by repeating the permutation's start so every rank
  has as many rows and steps). Batch i of all ranks together is rows ``i·B … (i+1)·B`` of
  the permutation, the rows a one-process run trains on at step i; with the gradients
  averaged by DDP it is the same step up to float summation order, exactly so when the
  loss is a plain mean (no ``train.class_weights``), the model's output ignores padding
  (each rank trims its own rows) and there is no dropout (each rank draws its own masks).
  A test checks the dev curve and final weights against a one-process run.
- **Evaluation** runs on rank 0 only, on the whole dev set, while the others wait at the
  next step; its decisions (early stopping, a hook's stop) reach them through the control
  exchange below. Step metrics (loss, accuracy, examples) are rank 0's own share of
  each batch, as Lightning logs by default: a noisier figure than the one-process curve,
  which reading every rank's loss would cost a device synchronisation to fix.
- **The run directory is rank 0's.** Only rank 0 writes events, status, meta and
  checkpoints; the other ranks' context emits nothing (:class:`tuirecipe.worker.PeerContext`).
  Their output (a traceback) goes to ``worker.log`` with torchrun's.
- **Stop and pause** are signalled to rank 0 (the pid in ``status.json``; the job client
  routes there for a multi-process run). Before every step all ranks exchange their
  ``[stop, pause]`` flags in one all-reduce (maximum) on a CPU gloo group
  (:class:`SyncedControl`), so all of them stop or pause at the same step. The cost is one
  small blocking CPU round trip per step (measured 0.5–1 ms on the loaded 2-core dev box)
  and never a device synchronisation, so the GPU queue keeps running ahead. Reading the
  flags only every k steps would not be sound: rank 0's early stopping acts at the step
  it decides.
- **Failures.** A rank that fails puts its message in torchrun's key-value store and
  exits; rank 0's next collective then fails and it records ``rank R of N failed: …``.
  A rank killed outright leaves no message: rank 0 says another process ended without a
  word (worker.log has torchrun's account of which). Every rank dies with torchrun
  (``PR_SET_PDEATHSIG`` on Linux), so a killed torchrun leaves no rank training, and the
  run is marked failed by whoever follows it (the job pipeline tracks torchrun's pid).
  With NCCL a dead peer can block rank 0 in the device; torchrun then kills it after its
  shutdown grace (30 s) and the run is marked failed the same way.
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime
import inspect
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tuirecipe.errors import UserError

_POLL_SECONDS = 0.1  # while paused: how often the ranks exchange flags
_FAILED_KEY = "tuirecipe/failed/{rank}"  # torchrun's store: a failed rank's report
_PR_SET_PDEATHSIG = 1
# How long ranks wait for each other at the control exchange (rank 0 evaluating, writing
# checkpoints); a pause polls, so it never waits this long.
CONTROL_TIMEOUT = datetime.timedelta(hours=6)


def launch_env() -> tuple[int, int, int]:
    """``(rank, world size, local rank)`` from torchrun's environment; ``(0, 1, 0)``
    when this process was not started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return 0, 1, 0
    return int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent (torchrun) dies: a rank left
    running without its launcher would go on writing a run that is marked failed. Linux
    only; elsewhere a rank notices at its next collective."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(1)


def shard_order(order: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s share of the permutation ``order``: every ``world``-th row from
    ``rank`` on, after padding ``order`` with its own start to a multiple of ``world``
    (each rank gets ``ceil(len / world)`` rows, as with ``DistributedSampler``)."""
    if world <= 1:
        return order
    n = len(order)
    pad = (-n) % world
    if pad and n:
        repeats = -(-pad // n)
        order = torch.cat([order, order.repeat(repeats)[:pad]])
    return order[rank::world]


def _gpus_error(message: str) -> UserError:
    return UserError(message, key="train.gpus")


def pick_rank_device(device_name: str, world: int, local_rank: int) -> tuple[torch.device, str]:
    """The device and backend of one rank for ``train.device = device_name``."""
    if device_name == "cpu":
        return torch.device("cpu"), "gloo"
    if device_name not in ("auto", "cuda"):
        raise _gpus_error(
            f"train.device = '{device_name}' names one device; with train.gpus = {world} "
            "use 'auto' or 'cuda' (one GPU per process), or 'cpu' (CPU processes on gloo)"
        )
    if not torch.cuda.is_available():
        raise _gpus_error(
            f"train.gpus = {world} asks for {world} GPUs but CUDA is not available on this "
            f"machine (torch {torch.__version__}); to run {world} CPU processes on the gloo "
            'backend instead (a test of the multi-process path) set train.device = "cpu"'
        )
    count = torch.cuda.device_count()
    if count < world:
        raise _gpus_error(
            f"train.gpus = {world} asks for {world} GPUs but this machine has {count}"
        )
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank), "nccl"


def connect_store() -> Any:
    """A client of torchrun's key-value store (hosted by torchrun itself, so it outlives
    the ranks); None when it cannot be reached."""
    import torch.distributed as dist

    try:
        return dist.TCPStore(
            os.environ["MASTER_ADDR"],
            int(os.environ["MASTER_PORT"]),
            is_master=False,
            timeout=datetime.timedelta(seconds=10),
        )
    except (KeyError, ValueError, RuntimeError):
        return None


@dataclass
class Distributed:
    """This process's place in a multi-process run, and what the train job needs of it."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str
    control_group: Any = None  # the CPU gloo group the control flags travel on
    store: Any = None
    synced: SyncedControl | None = None

    @property
    def lead(self) -> bool:
        """Rank 0: the one that writes the run directory."""
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        return self.rank, self.world

    def describe(self) -> dict[str, Any]:
        """For ``meta.json`` ``execution``."""
        return {
            "launcher": "torchrun",
            "processes": self.world,
            "backend": self.backend,
            "devices": "cpu" if self.device.type == "cpu" else f"cuda:0-{self.world - 1}",
        }

    def train_config(self, cfg: Any) -> Any:
        """``cfg`` for this rank's trainer: its share of each step's ``batch_size``."""
        return dataclasses.replace(cfg, batch_size=cfg.batch_size // self.world)

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` (already on this rank's device) in DistributedDataParallel; the
        constructor copies rank 0's weights to every rank."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        # No buffers synchronised each forward: text models keep none that training
        # changes, and it is a collective rank 0 would also run when it evaluates alone
        # (torch 2.13 renamed the option).
        params = inspect.signature(DistributedDataParallel).parameters
        option = "forward_sync_buffers"
        option = option if option in params else "broadcast_buffers"
        options: dict[str, Any] = {option: False}
        return DistributedDataParallel(model, device_ids=ids, **options)

    def control(self, local: Any) -> SyncedControl:
        """The control the trainer checks: ``local`` (this rank's signal flags) exchanged
        with every rank's before each step."""
        if self.synced is None or self.synced.local is not local:
            self.synced = SyncedControl(local, self.control_group)
        return self.synced

    def attach(self, trainer: Any) -> None:
        """Link ``trainer`` (built with this rank's control) to the exchange: its own stop
        (early stopping, a hook) goes to every rank. A rank other than 0 evaluates
        nothing: its dev split is left empty."""
        if self.synced is not None:
            self.synced.watch(trainer)
        if not self.lead:
            dev = trainer.dev_tensors
            empty = (dev.ids[:0], dev.targets[:0], dev.extent[:0], dev.pad_id)
            trainer.dev_tensors = type(dev)(*empty)

    def finish(self) -> None:
        """The last exchange of a run that ended by itself: a rank that stopped early on
        its own (rank 0, when early stopping decides at an epoch's end) releases the others
        waiting at their next step. Skipped when the end was itself an exchanged stop."""
        if self.synced is not None and not self.synced.stopped_together:
            self.synced.exchange(True, False)

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            try:
                dist.destroy_process_group()
            except (RuntimeError, ValueError):
                pass

    # -- failures --------------------------------------------------------------------------
    def peer_failure(self) -> PeerFailure | None:
        """What another rank reported before failing; None when none did."""
        return peer_failure(self.store, self.world)


@dataclass(frozen=True)
class PeerFailure:
    """A failure another rank reported: ``message`` is one line naming the rank."""

    message: str
    traceback: str = ""
    user_error: bool = False


def report_failure(
    store: Any, rank: int, world: int, message: str, trace: str = "", user_error: bool = False
) -> None:
    """A rank other than 0 leaves its failure for rank 0 to record (in torchrun's store,
    which outlives the ranks) and says it in ``worker.log``."""
    first = (message.strip().splitlines() or [""])[0]
    print(f"tuirecipe: rank {rank} of {world} failed: {first}", file=sys.stderr, flush=True)
    if trace:
        print(trace, file=sys.stderr, flush=True)
    if store is None:
        return
    report = {"message": first, "traceback": trace, "user_error": user_error}
    try:
        store.set(_FAILED_KEY.format(rank=rank), json.dumps(report))
    except RuntimeError:
        pass


def peer_failure(store: Any, world: int) -> PeerFailure | None:
    if store is None:
        return None
    for rank in range(1, world):
        key = _FAILED_KEY.format(rank=rank)
        try:
            if not store.check([key]):
                continue
            report = json.loads(store.get(key).decode("utf-8"))
        except (RuntimeError, ValueError, UnicodeDecodeError):
            continue
        return PeerFailure(
            f"rank {rank} of {world} failed: {report.get('message', '')}",
            str(report.get("traceback") or ""),
            bool(report.get("user_error")),
        )
    return None


def lost_peer_message(exc: BaseException, world: int) -> str | None:
    """One line for a collective that failed because another rank is gone."""
    text = str(exc)
    lost = ("Connection closed by peer", "Connection reset by peer", "Broken pipe")
    if not isinstance(exc, RuntimeError) or not any(word in text for word in lost):
        return None
    return (
        f"another process of this {world}-process run ended without a word (killed, or "
        "crashed in native code); its rank is in worker.log"
    )


def setup(device_name: str) -> Distributed:
    """Join the process group torchrun set up: pick this rank's device (a UserError when
    the machine lacks it), connect to torchrun's store, initialise the default group
    (DDP's gradients) and a CPU gloo group for the control flags."""
    import torch.distributed as dist

    rank, world, local_rank = launch_env()
    die_with_parent()
    store = connect_store()
    device, backend = pick_rank_device(device_name, world, local_rank)
    kwargs: dict[str, Any] = {"backend": backend}
    if device.type == "cuda":
        kwargs["device_id"] = device
    dist.init_process_group(**kwargs)
    # Its own group: waiting there is by design (for rank 0's evaluation, its checkpoints,
    # a pause), so it gets a long timeout; a dead rank is noticed at once regardless.
    group = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
    return Distributed(rank, world, local_rank, device, backend, group, store)


class SyncedControl:
    """Stop / pause for one rank of a multi-process run, agreed by all ranks.

    Has the trainer-facing side of :class:`tuirecipe.train.control.Control`
    (``checkpoint``, ``paused_seconds``, ``on_state``); the local control's flags (set by
    signal handlers on rank 0) and the trainer's own stop (early stopping, a hook) go into
    an all-reduce each step, and every rank acts on the same result. ``watch(trainer)``
    links the trainer's stop.
    """

    def __init__(self, local: Any, group: Any) -> None:
        self.local, self.group = local, group
        self.on_state: Callable[[str], None] | None = getattr(local, "on_state", None)
        self.paused_seconds = 0.0
        self.stopped_together = False  # the last exchange said stop: every rank knows
        self._trainer_stop: Callable[[], bool] = lambda: False
        self._flags = torch.zeros(2, dtype=torch.int32)

    def watch(self, trainer: Any) -> None:
        self._trainer_stop = lambda: bool(trainer.stopping)

    @property
    def stop_requested(self) -> bool:
        return bool(self.local.stop_requested)

    @property
    def paused(self) -> bool:
        return bool(self.local.paused)

    def exchange(self, stop: bool, pause: bool) -> tuple[bool, bool]:
        """All ranks' ``[stop, pause]``, each the maximum over the ranks."""
        import torch.distributed as dist

        flags = self._flags
        flags[0], flags[1] = int(stop), int(pause)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.group)
        stopped = bool(flags[0])
        self.stopped_together = self.stopped_together or stopped
        return stopped, bool(flags[1])

    def _local(self) -> tuple[bool, bool]:
        stop = self.local.stop_requested or self._trainer_stop()
        return stop, bool(self.local.paused) and not stop

    def checkpoint(self) -> bool:
        """Between steps, on every rank: block while any rank is paused; True when any
        rank asked to stop (then every rank returns True at this same step)."""
        stop, pause = self.exchange(*self._local())
        if pause and not stop:
            started = time.monotonic()
            if self.on_state is not None:
                self.on_state("paused")
            while pause and not stop:
                time.sleep(_POLL_SECONDS)
                stop, pause = self.exchange(*self._local())
            self.paused_seconds += time.monotonic() - started
            if not stop and self.on_state is not None:
                self.on_state("running")
        return stop


def run_train_job(ctx: Any) -> str:
    """The train job in one rank of a multi-process run; returns its state.

    Every rank loads the data (the same seeded preparation), then all exchange their flags
    once, so a stop that reached rank 0 while it loaded ends every rank.
    """
    from tuirecipe.train.control import StopRequested
    from tuirecipe.train.job import load_data, prepare_training, run_training

    config = ctx.config
    world = launch_env()[1]
    if config.train.batch_size % world:
        raise UserError(
            f"train.batch_size = {config.train.batch_size} does not split evenly between "
            f"train.gpus = {world} processes; use a multiple of {world}",
            key="train.batch_size",
        )
    if config.train.adversarial != "none":
        raise UserError(
            f"train.adversarial = '{config.train.adversarial}' is not supported with "
            f"train.gpus = {world} (its extra forward pass bypasses DDP); "
            "use one process",
            key="train.adversarial",
        )
    ranks = ctx.distributed = setup(config.train.device)
    if ranks.lead:
        execution = ctx.run.read_meta().get("execution") or {}
        ctx.run.update_meta(execution={**execution, **ranks.describe()})
    synced = ranks.control(ctx.control)
    try:
        data = load_data(ctx)
    except StopRequested:
        synced.exchange(True, False)  # the others learn it after their loading
        ranks.close()
        raise
    if synced.checkpoint():
        ranks.close()
        raise StopRequested("stopped on request while loading data")
    describe = f"{len(data.train):,} train / {len(data.dev):,} dev rows"
    trainer = prepare_training(ctx, data, describe=describe)
    state = run_training(trainer, config).state
    ranks.finish()
    ranks.close()
    return state
