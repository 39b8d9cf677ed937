"""The CUDA path: device selection, training, and out-of-memory handling (skipped without CUDA)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_auto_picks_cuda() -> None:
    from tuirecipe.train.device import pick_device

    assert pick_device("auto").type == "cuda"
    assert pick_device("cuda:0").type == "cuda"


def test_training_on_cuda_records_every_step_and_lowers_loss(tmp_path) -> None:
    from tuirecipe.config import config_from_dict
    from tuirecipe.data.prepare import prepare_data
    from tuirecipe.models import build_model, spec_for
    from tuirecipe.train.trainer import Trainer

    config = config_from_dict(
        {
            "runs_dir": str(tmp_path),
            "model": {"name": "textcnn"},
            "train": {"max_steps": 120, "eval_every": 60, "lr": 1e-3, "log_every": 10},
        }
    )
    data = prepare_data(config)
    model = build_model(config, spec_for(config, data))
    events = []
    Trainer(
        model, data, config.train, seed=0, emit=events.append, device=torch.device("cuda")
    ).run()
    steps = [e.step for e in events if e.kind == "step"]
    assert steps == list(range(1, 121))
    evals = [e.metrics["loss"] for e in events if e.kind == "eval"]
    assert evals[-1] < evals[0]


def test_cuda_out_of_memory_is_reported_with_advice(tmp_path) -> None:
    from tuirecipe.worker import _oom_message

    try:
        torch.empty(1 << 62, dtype=torch.uint8, device="cuda")
    except torch.OutOfMemoryError as exc:
        message = _oom_message(exc)
    assert message and "batch_size" in message
