"""Training: the trainer loop and its callbacks, the optimizer factory, evaluation with
confidence intervals, seeding, devices, stop/pause control, and the job pipeline
(:mod:`tuirecipe.train.job`, imported on its own)."""

from tuirecipe.train.batches import (
    SplitTensors,
    check_output_shape,
    class_weights,
    compute_loss,
    evaluate,
    iter_batches,
    predict,
)
from tuirecipe.train.callbacks import (
    Checkpoint,
    Checkpoints,
    DevPredictionsFile,
    EarlyStopping,
    LrRange,
    PredictionSamples,
    standard_callbacks,
)
from tuirecipe.train.control import Control
from tuirecipe.train.device import pick_device
from tuirecipe.train.metrics import mean_interval, prior_entropy, wilson_interval
from tuirecipe.train.optim import make_optimizer
from tuirecipe.train.prepared import TrainingData, TrainingSplits
from tuirecipe.train.seed import seed_everything
from tuirecipe.train.trainer import HOOK_POINTS, NumericsError, Trainer, TrainResult

__all__ = [
    "Checkpoint",
    "Checkpoints",
    "Control",
    "DevPredictionsFile",
    "EarlyStopping",
    "HOOK_POINTS",
    "LrRange",
    "NumericsError",
    "PredictionSamples",
    "SplitTensors",
    "TrainResult",
    "Trainer",
    "TrainingData",
    "TrainingSplits",
    "check_output_shape",
    "class_weights",
    "compute_loss",
    "evaluate",
    "iter_batches",
    "make_optimizer",
    "mean_interval",
    "pick_device",
    "predict",
    "prior_entropy",
    "seed_everything",
    "standard_callbacks",
    "wilson_interval",
]
