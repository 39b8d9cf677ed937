"""Choosing the torch device from ``train.device``."""

from __future__ import annotations

import torch

from tuirecipe.errors import UserError


def pick_device(name: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; an unavailable device is a UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(
                f"'{name}' was asked for but CUDA is not available on this machine "
                "(torch "
                f"{torch.__version__}); use 'auto' or 'cpu'",
                key="train.device",
            )
        device = torch.device(name)
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise UserError(
                f"'{name}' does not exist: this machine has {count} CUDA "
                f"device{'s' if count != 1 else ''}",
                key="train.device",
            )
        return device
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UserError(
                "'mps' was asked for but is not available on this machine; use 'auto' or 'cpu'",
                key="train.device",
            )
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise UserError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N", key="train.device")


def configure_threads(threads: int) -> int:
    """Set torch's CPU thread count: ``threads``, or with 0 all cores but one.

    A worker shares the machine with the console (and maybe other workers); leaving a
    core free keeps the console's event loop responsive, and on a small machine torch's
    threads spin-waiting against another busy process cost more than they bring.
    """
    import os

    if threads <= 0:
        threads = max(1, (os.cpu_count() or 1) - 1)
    torch.set_num_threads(threads)
    return threads


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says the device (or the host) ran out of memory."""
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()
