"""How a trainer executes its steps: precision, loss scaling and ``torch.compile``.

:class:`Execution` is built once per trainer from ``[train]``: the resolved
``train.precision`` (:mod:`tuirecipe.train.precision`) with its autocast context and, for
fp16, the gradient scaler; the model to call forward on (compiled with
``train.compile``); the backward pass and optimizer step that fit them; and what goes in
``meta.json``'s ``execution``. Kept apart from the loop so the trainer stays a small loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from tuirecipe.events import Event, Log
from tuirecipe.train.precision import apply_tf32, non_embedding_params, precision_for


def maybe_compile(
    model: nn.Module, wanted: bool, compiler: Callable[..., Any] | None = None
) -> tuple[nn.Module, str]:
    """``torch.compile(model, dynamic=True)`` when ``wanted``: ``(model to call, note)``.

    ``dynamic=True`` makes the sequence length symbolic, so dynamic padding (a new width
    per batch) does not recompile per batch (issue 16 measured 4.2 steps/s against 20
    uncompiled when it did). Where compiling is impossible the model itself comes back
    with a one-line note saying why; the note is "" when compiling was not asked for.
    """
    if not wanted:
        return model, ""
    compile_fn = compiler or getattr(torch, "compile", None)
    if compile_fn is None:
        return model, f"train.compile: torch {torch.__version__} has no torch.compile; ran eager"
    try:
        return compile_fn(model, dynamic=True), "train.compile: compiled (dynamic shapes)"
    except Exception as exc:  # the backend's own error types differ per platform
        return model, f"train.compile: not available here ({_first_line(exc)}); ran eager"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


class Execution:
    """``precision``, ``scaler`` (fp16 only), ``autocast()`` and ``forward`` (the model,
    or its compiled form, which shares its parameters: the trainer's model stays the
    plain module, so checkpoints keep their names and evaluation stays eager)."""

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        cfg: Any,
        adversary: Any = None,
        emit: Callable[[Event], None] | None = None,
    ) -> None:
        self.model, self.device, self.emit = model, device, emit or (lambda event: None)
        self.precision = precision_for(cfg.precision, device, model)
        apply_tf32(self.precision)
        self.scaler = self.precision.grad_scaler()
        self.autocast = self.precision.autocast
        if cfg.compile and adversary is not None:  # its forward hooks hold Python state
            self.forward, self.compile_note = model, "train.compile: not with train.adversarial"
        else:
            self.forward, self.compile_note = maybe_compile(model, cfg.compile)

    def first_forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The first step's forward: a compiled model compiles here (lazily), and where
        the compiler fails (no Triton, no C++ compiler) training goes on eager, saying why
        (the note on ``train.compile`` is logged here, whatever it says)."""
        if self.forward is self.model:
            if self.compile_note:
                self.emit(Log(message=self.compile_note, level="warning"))
            return self.model(ids, mask)
        try:
            out = self.forward(ids, mask)
        except Exception as exc:  # the compiler's own errors differ per backend
            out = self.model(ids, mask)  # a fault of the model itself raises here
            self.forward = self.model
            self.compile_note = f"train.compile: compiling failed ({_first_line(exc)}); ran eager"
            self.emit(Log(message=self.compile_note, level="warning"))
            return out
        self.emit(Log(message=self.compile_note))
        return out

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through fp16's scaler (gradients accumulate as usual)."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(
        self, optimizer: torch.optim.Optimizer, params: Sequence[torch.Tensor], grad_clip: float
    ) -> None:
        """Optional clipping of the gradient norm, then the optimizer step (through the
        scaler for fp16: unscaled before clipping, skipped when they overflowed)."""
        scaler = self.scaler
        if scaler is not None and grad_clip > 0:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        if scaler is None:
            optimizer.step()
            return
        scaler.step(optimizer)
        scaler.update()

    def as_meta(self, optimizer: torch.optim.Optimizer, log_every: int) -> dict[str, Any]:
        """For ``meta.json``'s ``execution``: the resolved precision, TF32, fused
        optimizer, compile, the step-log block, the model's non-embedding parameters (for
        TFLOP/s) and, on CUDA, the card's name (for its peak)."""
        info: dict[str, Any] = {
            "device": str(self.device),
            **self.precision.as_meta(),
            "fused_optimizer": bool(optimizer.defaults.get("fused")),
            "compiled": self.forward is not self.model,
            "log_every": log_every,
            "non_embedding_params": non_embedding_params(self.model),
        }
        if self.compile_note:
            info["compile_note"] = self.compile_note
        if self.device.type == "cuda":
            info["device_name"] = torch.cuda.get_device_name(self.device)
        return info
