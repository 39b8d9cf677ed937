"""The body every training job shares (the train job, each cross-validation fold).

:func:`prepare_training` picks the device, records the run's meta, vocabulary and total
steps, seeds, builds the model and creates its trainer with the run's callbacks (the
prediction samples, ``dev_predictions.json``, early stopping, the checkpoints ``best.pt``,
``last.pt`` and ``model.pt`` = the kept one, recorded in ``meta.json`` and ``status.json``
under ``checkpoint``);
:func:`run_training` trains it, turning a crash inside the user's model code into a
one-line ``ModelError``. A job adds only what is its own: which data it trains on, and
what it does with the trained model.

``ctx`` is the worker's ``JobContext`` (``config``, ``run``, ``emit``, ``log``,
``control``); it is passed in, never imported, so this module stays below the worker.
"""

from __future__ import annotations

import dataclasses
import gc
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from tuirecipe.config import Config, checkpoint_interval
from tuirecipe.errors import ModelError, UserError
from tuirecipe.fileio import atomic_write_bytes
from tuirecipe.train.callbacks import Checkpoints, DevPredictionsFile, standard_callbacks
from tuirecipe.train.device import is_out_of_memory, pick_device
from tuirecipe.train.optim import make_optimizer, make_scheduler
from tuirecipe.train.resume import ResumeCheckpoint
from tuirecipe.train.seed import seed_everything
from tuirecipe.train.trainer import Trainer, TrainResult, steps_per_epoch

_PACKAGE = str(Path(__file__).resolve().parents[1])  # frames under it are not user code


def load_data(ctx: Any, *, augment: bool = True, message: str = "loading data") -> Any:
    """The config's data, prepared; its notes and skipped rows logged as warnings."""

    ctx.log(message)
    # A stop ends the loading at once (a large file or many augmented copies take long).
    interruptible = getattr(ctx, "interruptible", None)
    with interruptible() if interruptible is not None else nullcontext():
        data = _prepare(ctx, augment)
    for note in data.report.notes:
        ctx.log(note, level="warning")
    if data.report.skipped:
        first = data.report.skipped[0]
        ctx.log(
            f"skipped {len(data.report.skipped)} unusable rows of {data.report.path} "
            f"(first: row {first.row}: {first.reason})",
            level="warning",
        )
    return data


def _prepare(ctx: Any, augment: bool) -> Any:
    """``prepare_data``; through the prepared-data cache when this worker's pool asked
    for it (:mod:`tuirecipe.data.cache`), saying in the log and ``meta.json``
    (``data_cache``) whether the entry was reused."""
    from tuirecipe.data.cache import cache_enabled, prepare_cached
    from tuirecipe.data.prepare import prepare_data

    config: Config = ctx.config
    if not cache_enabled():
        return prepare_data(config, augment=augment)
    data, use = prepare_cached(config)
    if use.damaged:
        ctx.log(f"prepared-data cache: a damaged entry {use.path} was removed", level="warning")
    if use.hit:
        ctx.log(f"prepared data reused from the cache ({use.path})")
    else:
        ctx.log(f"prepared data {'written to' if use.written else 'not cached in'} {use.path}")
    ctx.run.update_meta(data_cache=use.record())
    if augment and config.augment.enabled:
        from tuirecipe.data.augment import augment_split

        data.train = augment_split(
            data.train, data.vocab, config.augment, config.seed, config.data.max_len
        )
    return data


def total_steps(train_rows: int, cfg: Any, world: int = 1) -> int:
    """Optimizer steps a run will make: whole epochs, capped by ``train.max_steps``. With
    ``train.grad_accum_steps`` N an optimizer step takes N batches (fewer at an epoch's end).
    ``world`` data-parallel processes each train on their share of the rows, in their
    share of each batch (the same number of steps)."""
    if world > 1:
        train_rows = -(-train_rows // world)
        cfg = dataclasses.replace(cfg, batch_size=cfg.batch_size // world)
    total = steps_per_epoch(train_rows, cfg) * cfg.epochs if train_rows else 0
    return min(total, cfg.max_steps) if cfg.max_steps else total


def prepare_training(
    ctx: Any, data: Any, *, describe: str, sizes: dict[str, int] | None = None, **meta: Any
) -> Trainer:
    """Device, meta, vocabulary, total steps, seeded model and its trainer for ``data``.

    ``describe`` ends the log line naming the model; ``sizes`` adds to the recorded split
    sizes and ``meta`` to ``meta.json``.
    """
    import torch

    from tuirecipe.models import build_model, spec_for

    config: Config = ctx.config
    # One rank of a multi-process run (tuirecipe.train.distributed): its device, shard and
    # synced control; only rank 0 (the lead) writes the run directory.
    ranks = getattr(ctx, "distributed", None)
    lead, world = (ranks.lead, ranks.world) if ranks is not None else (True, 1)
    device = ranks.device if ranks is not None else pick_device(config.train.device)
    total = total_steps(len(data.train), config.train, world)
    if lead:
        ctx.run.update_meta(
            data=data.fingerprint(),
            labels=[str(name) for name in data.label_names],
            device=str(device),
            versions={**ctx.run.read_meta().get("versions", {}), "torch": torch.__version__},
            sizes={
                "train": len(data.train),
                "dev": len(data.dev),
                "vocab": len(data.vocab),
                "classes": len(data.label_names),
                **(sizes or {}),
            },
            **meta,
        )
        atomic_write_bytes(ctx.run.path / "vocab.json", data.vocab.to_json().encode("utf-8"))
        ctx.run.write_status(total_steps=total)
    spec = spec_for(config, data)
    seed_everything(config.seed)  # the initial weights come from the seed
    model = build_model(config, spec)
    params = sum(p.numel() for p in model.parameters())
    where = f"{device} × {world} processes" if world > 1 else str(device)
    ctx.log(f"model {config.model.name}: {params:,} parameters on {where}; {describe}")
    # Seeded again after the build, so dropout draws the same numbers whatever the model's
    # initialisation consumed.
    seed_everything(config.seed)
    # resume.pt (train.checkpoint_every) before Checkpoints: at a stop it saves the
    # weights of the last step, not the best ones Checkpoints then restores
    resumable = [ResumeCheckpoint(ctx.run.path, config.train.checkpoint_every)]
    callbacks = [
        *standard_callbacks(config.train, config.seed),
        *(resumable if checkpoint_interval(config.train.checkpoint_every) != (0, 0.0) else []),
        # before DevPredictionsFile: at train end the kept weights are restored first
        Checkpoints(ctx.run.path, config.train.keep, record=lambda info: record_kept(ctx, info)),
        DevPredictionsFile(ctx.run.path / "dev_predictions.json"),
    ]
    model = model.to(device)
    optimizer = make_optimizer(model, config.train)
    trainer = Trainer(
        model,
        data,
        ranks.train_config(config.train) if ranks is not None else config.train,
        seed=config.seed,
        emit=ctx.emit,
        control=ranks.control(ctx.control) if ranks is not None else ctx.control,
        device=device,
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, config.train, total),
        callbacks=callbacks if lead else [],
        embedding_module=config.model.embedding_module,
        distributed=ranks,
    )
    if ranks is not None:
        ranks.attach(trainer)
    if lead:
        record_execution(ctx, trainer)
    return trainer


def record_execution(ctx: Any, trainer: Trainer) -> None:
    """How the run executes (the resolved ``train.precision``, TF32, fused AdamW,
    compile, …) in ``meta.json``'s ``execution``, beside what the worker put there, and
    one log line saying it. Written again when training ends when compiling fell back to
    eager at the first step (``compiled`` then says false, ``compile_note`` why)."""
    info = trainer.execution.as_meta(trainer.optimizer, trainer.log_every)
    ctx.run.update_meta(execution={**(ctx.run.read_meta().get("execution") or {}), **info})

    def record_fallback(trained: Trainer) -> None:
        final = trained.execution.as_meta(trained.optimizer, trained.log_every)
        if final["compiled"] != info["compiled"]:
            ctx.run.update_meta(execution={**ctx.run.read_meta().get("execution", {}), **final})

    trainer.add_hook("on_train_end", record_fallback)
    why = f" ({info['precision_reason']})" if info.get("precision_reason") else ""
    extras = [
        "TF32 matmuls" if info["tf32"] else "",
        "fused AdamW" if info["fused_optimizer"] else "",
        "compiled" if info["compiled"] else "",
    ]
    extra = "".join(f", {e}" for e in extras if e)
    ctx.log(
        f"precision {info['precision']}{why}{extra}; step metrics read every "
        f"{info['log_every']} step{'s' if info['log_every'] != 1 else ''}"
    )


def record_kept(ctx: Any, info: dict[str, Any]) -> None:
    """The kept checkpoint in ``meta.json`` and ``status.json``, and a log line saying it."""
    ctx.run.update_meta(checkpoint=info)
    ctx.run.write_status(checkpoint=info["file"], checkpoint_step=info["step"])
    figures = " ".join(f"{k} {v:.4g}" for k, v in info["metrics"].items() if isinstance(v, float))
    last = info["last"]
    other = "" if info["step"] == last["step"] else f"; last.pt is step {last['step']}"
    ctx.log(
        f"kept {info['file']} (train.keep = {info['keep']}): step {info['step']}"
        + (f", dev {figures}" if figures else ", no dev evaluation")
        + f"; model.pt is a copy of it{other}"
    )


def run_training(trainer: Trainer, config: Config) -> TrainResult:
    """``trainer.run()``; a crash inside the user's model code becomes a ModelError.

    What exists when training starts (the data, the vocabulary, the model, the imported
    libraries: some 400,000 objects the garbage collector tracks) is frozen out of the
    collector's passes while training runs: each full pass over them took ~90 ms on a
    2-core machine, several times a run, since each step's events feed the young
    generations. Objects made during training are collected as usual.
    """
    gc.collect()
    gc.freeze()
    try:
        return trainer.run()
    except Exception as exc:
        error = as_user_model_error(exc, config)
        if error is None:
            raise  # bare: no extra frame in the traceback tail a run records
        raise error from exc
    finally:
        gc.unfreeze()


def as_user_model_error(exc: BaseException, config: Config) -> UserError | None:
    """A one-line ModelError when the failure happened inside the user's model code.

    The traceback stays attached (``__cause__``), so the run's detail shows its tail.
    Out-of-memory errors are left alone: the worker reports them with their own advice.
    """
    if isinstance(exc, UserError) or ":" not in config.model.name or is_out_of_memory(exc):
        return None
    user_frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(_PACKAGE)
        and "site-packages" not in f.filename
        and not f.filename.startswith("<")
    ]
    if not user_frames:
        return None
    where = user_frames[-1]
    first = (str(exc).strip().splitlines() or [""])[0]
    error = ModelError(
        f"model '{config.model.name}' raised {type(exc).__name__}: {first} "
        f"(at {where.filename}:{where.lineno})",
        source=config.source,
        key="model.name",
    )
    error.__cause__ = exc
    return error
