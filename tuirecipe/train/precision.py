"""The numeric precision a run trains and evaluates in (``train.precision``).

:func:`resolve_precision` is a pure function of what was asked for, the device and the
model's size, so the choice ``"auto"`` makes is testable without a GPU;
:func:`precision_for` asks torch for the device's facts and calls it. The result,
:class:`Precision`, gives the autocast context for forward passes, a gradient scaler for
fp16, and the TF32 flag; :func:`apply_tf32` sets the process-wide matmul mode it implies.
:class:`tuirecipe.train.execution.Execution` applies it in a trainer.

Why the ``"auto"`` threshold: on an H200 (issue 16) bf16 autocast slowed a 256d×4
transformer (≈3 M parameters outside the embeddings) from 94.8 to 35.9 steps/s — a small
model's steps are bound by kernel launches, and autocast adds casts — while a 512d×6 one
(≈19 M) went from 19.7 (fp32) to 69.7 steps/s with bf16 and fused AdamW. So bf16 is
chosen from :data:`AUTO_BF16_MIN_PARAMS` non-embedding parameters up; smaller models stay
in fp32 (with TF32 matmuls on Ampere or newer, which costs them nothing).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tuirecipe.config import PRECISIONS

AUTO_BF16_MIN_PARAMS = 10_000_000  # non-embedding parameters (module doc)
TF32_MIN_CAPABILITY = (8, 0)  # Ampere: the first CUDA generation with TF32 tensor cores
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """A resolved precision: ``name`` is fp32, bf16 or fp16 (never auto)."""

    name: str
    device_type: str  # "cpu", "cuda", "mps"
    tf32: bool = False  # fp32 matmuls run as TF32 (CUDA, Ampere or newer)
    reason: str = ""  # why "auto" chose it ("" when it was asked for by name)

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES.get(self.name, torch.float32)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The context forward passes (and their loss) run in: autocast, or nothing."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """fp16's narrow exponent range needs loss scaling; bf16 and fp32 do not."""
        return torch.amp.GradScaler(self.device_type) if self.name == "fp16" else None

    def as_meta(self) -> dict[str, Any]:
        return {"precision": self.name, "tf32": self.tf32, "precision_reason": self.reason}


def non_embedding_params(model: nn.Module) -> int:
    """Parameters outside ``nn.Embedding`` tables: the ones that cost compute per token
    (an embedding lookup is a gather, not a matmul). Shared tensors are counted once."""
    tables = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    embedded = {id(p) for m in tables for p in m.parameters()}
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen and id(p) not in embedded:
            seen.add(id(p))
            total += p.numel()
    return total


def resolve_precision(
    requested: str,
    device_type: str,
    *,
    params: int,
    bf16_supported: bool = False,
    capability: tuple[int, int] | None = None,
) -> Precision:
    """The precision to train in. ``params``: the model's non-embedding parameters;
    ``bf16_supported`` / ``capability``: the CUDA device's (ignored elsewhere).

    fp32 on CUDA from Ampere on turns TF32 matmuls on. ``"auto"`` is fp32 on the CPU and
    MPS (CPU bf16 autocast is slower than fp32 on most CPUs), and bf16 on CUDA where the
    device supports it and the model has at least :data:`AUTO_BF16_MIN_PARAMS`
    non-embedding parameters.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision '{requested}'; use one of {', '.join(PRECISIONS)}")
    cuda = device_type == "cuda"
    tf32 = cuda and capability is not None and tuple(capability) >= TF32_MIN_CAPABILITY
    if requested != "auto":
        return Precision(requested, device_type, tf32=tf32 and requested == "fp32")
    if not cuda:
        return Precision("fp32", device_type, reason=f"auto: fp32 on {device_type}")
    if not bf16_supported:
        return Precision("fp32", device_type, tf32=tf32, reason="auto: this GPU has no bf16")
    if params < AUTO_BF16_MIN_PARAMS:
        return Precision(
            "fp32",
            device_type,
            tf32=tf32,
            reason=f"auto: fp32 for a model of {params:,} non-embedding parameters "
            f"(bf16 from {AUTO_BF16_MIN_PARAMS:,})",
        )
    return Precision(
        "bf16", device_type, reason=f"auto: bf16 for {params:,} non-embedding parameters"
    )


def device_facts(device: torch.device) -> dict[str, Any]:
    """What :func:`resolve_precision` needs to know of a CUDA device (nothing elsewhere)."""
    if device.type != "cuda":
        return {}
    return {
        "bf16_supported": bool(torch.cuda.is_bf16_supported()),
        "capability": tuple(torch.cuda.get_device_capability(device)),
    }


def precision_for(requested: str, device: torch.device, model: nn.Module) -> Precision:
    """:func:`resolve_precision` with ``device``'s own facts and ``model``'s size."""
    return resolve_precision(
        requested, device.type, params=non_embedding_params(model), **device_facts(device)
    )


def apply_tf32(precision: Precision) -> None:
    """Turn TF32 matmuls (and cuDNN convolutions) on when ``precision`` says so.

    A process-wide setting: only a worker (one job per process) should call it.
    """
    if precision.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
