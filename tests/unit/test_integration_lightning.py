"""The Lightning logger: a tiny model fitted a few steps on the CPU becomes a run (its
hyperparameters the config, its train and validation metrics the curves); a training step
that raises fails the run with the exception's line."""

from __future__ import annotations

import pytest

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")

from tuirecipe.events import EvalMetrics, StepMetrics  # noqa: E402
from tuirecipe.integrations.lightning import TuirecipeLogger  # noqa: E402
from tuirecipe.runs.listing import summarize  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Tiny(pl.LightningModule):
    def __init__(self, lr: float = 0.1, fail_at: int = -1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 2)

    def training_step(self, batch, batch_idx):
        if self.global_step == self.hparams.fail_at:
            raise RuntimeError("the batch had no labels")
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.layer(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loader():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=gen)
    y = (x[:, 0] > 0).long()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)


def _trainer(logger) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=2,
        logger=logger,
        accelerator="cpu",
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def test_a_lightning_fit_is_recorded_as_a_run(tmp_path):
    logger = TuirecipeLogger(name="tiny", runs_dir=str(tmp_path / "runs"), motivation="try it")
    _trainer(logger).fit(Tiny(lr=0.05), _loader(), _loader())
    run = logger.experiment
    steps = [e for e in run.dir.events() if isinstance(e, StepMetrics)]
    assert [e.step for e in steps] == list(range(0, 8))  # 4 batches × 2 epochs
    assert steps[-1].epoch == 1.0
    evals = [e for e in run.dir.events() if isinstance(e, EvalMetrics)]
    assert [e.step for e in evals] == [3, 7] and set(evals[0].metrics) == {"loss", "acc"}
    summary = summarize(run.dir)
    assert summary.state == "finished" and summary.motivation == "try it"
    assert summary.last_step == 7
    config = run.dir.config_path.read_text(encoding="utf-8")
    assert "lr = 0.05" in config and "fail_at = -1" in config


def test_a_failing_lightning_fit_fails_the_run_with_its_line(tmp_path):
    logger = TuirecipeLogger(name="tiny", runs_dir=str(tmp_path / "runs"))
    with pytest.raises(RuntimeError, match="no labels"):
        _trainer(logger).fit(Tiny(fail_at=5), _loader(), _loader())
    status = logger.experiment.dir.read_status()
    assert status["state"] == "failed"
    assert status["message"] == "RuntimeError: the batch had no labels"
    assert status["step"] >= 3
