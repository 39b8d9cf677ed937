"""Training: the trainer loop, evaluation with confidence intervals, seeding, devices,
and stop/pause control."""

from tuirecipe.train.batches import (
    SplitTensors,
    check_output_shape,
    class_weights,
    compute_loss,
    evaluate,
    iter_batches,
    predict,
)
from tuirecipe.train.control import Control
from tuirecipe.train.device import pick_device
from tuirecipe.train.metrics import mean_interval, prior_entropy, wilson_interval
from tuirecipe.train.seed import seed_everything
from tuirecipe.train.trainer import HOOK_POINTS, NumericsError, Trainer, TrainResult

__all__ = [
    "Control",
    "HOOK_POINTS",
    "NumericsError",
    "SplitTensors",
    "TrainResult",
    "Trainer",
    "check_output_shape",
    "class_weights",
    "compute_loss",
    "evaluate",
    "iter_batches",
    "mean_interval",
    "pick_device",
    "predict",
    "prior_entropy",
    "seed_everything",
    "wilson_interval",
]
