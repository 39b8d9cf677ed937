"""Seeding every random number generator a training run touches."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed python ``random``, numpy and torch (CPU and CUDA); return a fresh CPU generator.

    The returned generator is for data order (shuffling), so that the order does not
    depend on how many random numbers the model's initialisation or dropout consumed.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
