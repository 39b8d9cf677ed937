"""The Hugging Face callback: a tiny BERT trained a few steps on the CPU with
``transformers.Trainer`` becomes a run (arguments and model config the config, ``loss`` the
curve, ``eval_*`` the dev evaluations, speed figures kept apart)."""

from __future__ import annotations

import pytest

pytest.importorskip("accelerate")  # transformers.Trainer needs it (checked first: cheap)
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from tuirecipe.events import EvalMetrics, StepMetrics, TrackedMetrics  # noqa: E402
from tuirecipe.integrations.hf import TuirecipeCallback  # noqa: E402
from tuirecipe.runs.listing import summarize  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Rows(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 30, (n, 6), generator=gen)
        self.labels = (self.ids[:, 0] > 15).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones(6, dtype=torch.long),
            "labels": self.labels[i],
        }


def test_a_hugging_face_trainer_run_is_recorded(tmp_path):
    config = transformers.BertConfig(
        vocab_size=32,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        num_labels=2,
    )
    model = transformers.BertForSequenceClassification(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=6,
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=3,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    callback = TuirecipeCallback(name="bert-tiny", runs_dir=str(tmp_path / "runs"))
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=Rows(32, 0),
        eval_dataset=Rows(16, 1),
        callbacks=[callback],
    )
    trainer.train()
    run = callback.run
    assert run is not None
    events = run.dir.events()
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert [e.step for e in steps] == [1, 2, 3, 4, 5, 6]
    assert steps[0].lr == pytest.approx(1e-3, rel=0.5) and steps[-1].epoch > 0
    evals = [e for e in events if isinstance(e, EvalMetrics)]
    assert [e.step for e in evals] == [3, 6] and "loss" in evals[0].metrics
    assert not any("runtime" in k for e in evals for k in e.metrics)  # speed: kept apart
    extra = {k for e in events if isinstance(e, TrackedMetrics) for k in e.values}
    assert {"eval_runtime", "train_runtime", "train_loss_mean"} <= extra
    summary = summarize(run.dir)
    assert summary.state == "finished" and summary.last_step == 6
    assert run.dir.read_status()["total_steps"] == 6
    assert set(summary.best) >= {"loss"}
    table = run.dir.config_path.read_text(encoding="utf-8")
    assert "learning_rate = 0.001" in table and "hidden_size = 8" in table
