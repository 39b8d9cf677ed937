"""Training throughput: tokens/s, achieved TFLOP/s and the share of the card's peak.

One source for the Train pane and ``tuirecipe runs``: both pass what a run recorded (the
non-padding tokens and training seconds of its step events, and ``meta.json``'s
``execution``) to :func:`throughput` and show :meth:`Throughput.text`. No torch here: the
console imports it.

Achieved FLOP/s follow the usual estimate for a dense network's training step, 6 × the
non-embedding parameters × the tokens (2 for the forward pass, 4 for the backward; an
embedding lookup is not a matmul), over the seconds trained. Attention's own matmuls are
left out, so long sequences are under-counted a little. Given on CUDA only: on a CPU the
figure would be measured against no meaningful peak.

The peaks are dense (no sparsity) tensor-core figures from the vendors' datasheets, per
math mode: bf16 / fp16 autocast, TF32 (fp32 with TF32 matmuls) and plain fp32. A card not
in :data:`PEAK_TFLOPS` gets no utilisation, and the text says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is not imported at run time: the check store imports this module
    import numpy as np


def _peaks(
    bf16: float | None, tf32: float | None, fp32: float, fp16: float = 0.0
) -> dict[str, float]:
    """Dense TFLOP/s by mode; fp16 is bf16's where not given (equal on these cards)."""
    peaks = {"bf16": bf16, "fp16": fp16 or bf16, "tf32": tf32, "fp32": fp32}
    return {mode: value for mode, value in peaks.items() if value}


# (pattern matched against the lower-cased torch.cuda.get_device_name, a short name,
# dense TFLOP/s by math mode). Checked in order: the more specific names come first; the
# NVL and other variants with other clocks are left out (unknown rather than wrong).
PEAK_TFLOPS: tuple[tuple[str, str, dict[str, float]], ...] = (
    (r"\bh200\b(?!.*nvl)", "H200", _peaks(989.0, 494.0, 67.0)),
    (r"\bh100\b.*pcie", "H100 PCIe", _peaks(756.0, 378.0, 51.0)),
    (r"\bh100\b.*(sxm|hbm3)", "H100 SXM", _peaks(989.0, 494.0, 67.0)),
    (r"\ba100\b", "A100", _peaks(312.0, 156.0, 19.5)),
    (r"\bl40s\b", "L40S", _peaks(362.0, 183.0, 91.6)),
    (r"\bl4\b", "L4", _peaks(121.0, 60.0, 30.3)),
    (r"rtx 4090", "RTX 4090", _peaks(165.2, 82.6, 82.6)),
    (r"rtx 3090", "RTX 3090", _peaks(71.0, 35.6, 35.6)),
    (r"\bv100\b", "V100", _peaks(None, None, 15.7, fp16=125.0)),
    (r"\bt4\b", "T4", _peaks(None, None, 8.1, fp16=65.0)),
)


def math_mode(execution: dict[str, Any]) -> str:
    """The mode a run's matmuls ran in: bf16, fp16, tf32 or fp32."""
    precision = str(execution.get("precision") or "fp32")
    if precision == "fp32" and execution.get("tf32"):
        return "tf32"
    return precision


def card_peak(device_name: str, mode: str) -> tuple[str, float | None]:
    """``(short card name, dense peak TFLOP/s in mode)``; ``("", None)`` for a card not in
    the table, ``(name, None)`` for a mode it has no figure for (bf16 on a V100)."""
    name = device_name.lower()
    for pattern, short, peaks in PEAK_TFLOPS:
        if re.search(pattern, name):
            return short, peaks.get(mode)
    return "", None


@dataclass(frozen=True)
class Throughput:
    tokens_per_s: float
    tflops: float | None = None  # achieved model TFLOP/s (CUDA only)
    utilisation: float | None = None  # of the card's peak in the run's math mode
    card: str = ""  # the card's short name from the table
    mode: str = ""  # bf16 | fp16 | tf32 | fp32
    note: str = ""  # why a figure is missing ("" when none is)

    def text(self) -> str:
        """``"48,210 tok/s · 61.3 TFLOP/s · 6.2 % of H200 bf16 peak"``."""
        parts = [f"{self.tokens_per_s:,.0f} tok/s"]
        if self.tflops is not None:
            parts.append(f"{self.tflops:.1f} TFLOP/s")
        if self.utilisation is not None:
            parts.append(f"{100 * self.utilisation:.1f} % of {self.card} {self.mode} peak")
        elif self.note:
            parts.append(self.note)
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def throughput(
    tokens: float, seconds: float, execution: dict[str, Any] | None, device: str = ""
) -> Throughput | None:
    """The figures for ``tokens`` non-padding tokens trained on in ``seconds``; None
    when nothing was measured (no tokens recorded, no time passed).

    ``execution`` is ``meta.json``'s (device, precision, tf32, non_embedding_params,
    device_name); ``device`` ("cuda:0", "cpu") overrides its ``device``.
    """
    if tokens <= 0 or seconds <= 0:
        return None
    execution = execution or {}
    device = device or str(execution.get("device") or "")
    rate = tokens / seconds
    if not str(device).startswith("cuda"):
        return Throughput(rate)
    params = execution.get("non_embedding_params")
    if not isinstance(params, int) or params <= 0:
        return Throughput(rate, note="TFLOP/s unknown: the run did not record its model size")
    tflops = 6.0 * params * rate / 1e12
    mode = math_mode(execution)
    device_name = str(execution.get("device_name") or "")
    card, peak = card_peak(device_name, mode)
    if not card:
        note = f"peak of {device_name or 'this card'} not known: no utilisation"
        return Throughput(rate, tflops, mode=mode, note=note)
    if peak is None:
        return Throughput(rate, tflops, card=card, mode=mode, note=f"no {mode} peak for {card}")
    return Throughput(rate, tflops, tflops / peak, card, mode)


def window_throughput(
    tokens: Sequence[float] | np.ndarray,
    elapsed: Sequence[float] | np.ndarray,
    window: int,
    execution: dict[str, Any] | None,
) -> Throughput | None:
    """:func:`throughput` over the last ``window`` steps, from one value per step of the
    cumulative tokens and the cumulative training seconds (a live rate)."""
    if len(tokens) < 2 or len(elapsed) != len(tokens):
        return None
    first = max(0, len(tokens) - 1 - window)
    return throughput(
        float(tokens[-1] - tokens[first]), float(elapsed[-1] - elapsed[first]), execution
    )
