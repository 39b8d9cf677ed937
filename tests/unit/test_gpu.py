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


def _cuda_trainer(tmp_path, events, model_table=None, **train):
    from tuirecipe.config import config_from_dict
    from tuirecipe.data.prepare import prepare_data
    from tuirecipe.models import build_model, spec_for
    from tuirecipe.train.trainer import Trainer

    config = config_from_dict(
        {
            "runs_dir": str(tmp_path),
            "model": {"name": "textcnn", **(model_table or {})},
            "train": {"eval_every": 0, "lr": 1e-3, **train},
        }
    )
    data = prepare_data(config)
    model = build_model(config, spec_for(config, data))
    return Trainer(model, data, config.train, seed=0, emit=events.append, device="cuda")


def test_no_step_synchronises_the_gpu_between_block_reads(tmp_path, monkeypatch) -> None:
    # sync debug mode "error" raises on any device-to-host wait; only the block read
    # (StepLog.flush) may wait, so it alone runs with the mode off
    from tuirecipe.train.steplog import StepLog

    flush = StepLog.flush

    def quiet_flush(self) -> None:
        mode = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode(0)
        try:
            flush(self)
        finally:
            torch.cuda.set_sync_debug_mode(mode)

    events: list = []
    trainer = _cuda_trainer(tmp_path, events, max_steps=120, grad_clip=1.0)
    monkeypatch.setattr(StepLog, "flush", quiet_flush)
    # from the end of step 1 to the last step (the final evaluation may wait)
    trainer.add_hook(
        "on_batch_end", lambda t: torch.cuda.set_sync_debug_mode("error" if t.step < 120 else 0)
    )
    try:
        trainer.run()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert trainer.log_every == 50  # log_every = 0: blocks on a GPU
    steps = [e for e in events if e.kind == "step"]
    assert [e.step for e in steps] == list(range(1, 121))
    assert steps[-1].tokens > steps[0].tokens > 0
    info = trainer.execution.as_meta(trainer.optimizer, trainer.log_every)
    assert info["fused_optimizer"] is True and info["device_name"]


def test_auto_precision_on_the_card_follows_the_resolver(tmp_path) -> None:
    from tuirecipe.train.precision import AUTO_BF16_MIN_PARAMS, non_embedding_params

    big = {"name": "transformer", "embed_dim": 512, "hidden_dim": 2048, "num_layers": 6}
    big["num_heads"] = 8
    events: list = []
    trainer = _cuda_trainer(tmp_path, events, model_table=big, max_steps=20, batch_size=16)
    trainer.run()
    info = trainer.execution.as_meta(trainer.optimizer, trainer.log_every)
    large = non_embedding_params(trainer.model) >= AUTO_BF16_MIN_PARAMS
    bf16 = torch.cuda.is_bf16_supported()
    assert info["precision"] == ("bf16" if large and bf16 else "fp32")
    major, _ = torch.cuda.get_device_capability()
    assert info["tf32"] == (info["precision"] == "fp32" and major >= 8)
    assert all(e.loss == e.loss for e in events if e.kind == "step")  # finite


def test_fp16_with_the_scaler_trains_on_cuda(tmp_path) -> None:
    events: list = []
    trainer = _cuda_trainer(tmp_path, events, max_steps=60, precision="fp16", grad_clip=1.0)
    trainer.run()
    losses = [e.loss for e in events if e.kind == "step"]
    assert len(losses) == 60 and all(v == v for v in losses)
    assert trainer.execution.scaler is not None
