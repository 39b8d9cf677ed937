"""``tuirecipe.checks.run_model_checks``: the console's model checks on a user's own
``nn.Module`` and batches, as a user's CI would call them. A sound model passes every
check; models built to fail (mixing the batch, overconfident at init, letting padding in,
a parameter cut off) fail the check meant for them; bad arguments are one-line errors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from tuirecipe.checks import run_model_checks  # noqa: E402
from tuirecipe.checks.user_model import MODEL_CHECKS  # noqa: E402
from tuirecipe.errors import UserError  # noqa: E402
from tuirecipe.events import CheckResult  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CLASSES, WIDTH = 3, 10


def batches(n: int = 4, size: int = 16, seed: int = 0) -> list[tuple]:
    """Class c's rows use token ids from its own band; rows have 3-10 real tokens, then
    padding (id 0)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        y = torch.randint(0, CLASSES, (size,), generator=gen)
        ids = 1 + y[:, None] * 15 + torch.randint(0, 15, (size, WIDTH), generator=gen)
        lengths = torch.randint(3, WIDTH + 1, (size,), generator=gen)
        out.append((ids.masked_fill(torch.arange(WIDTH)[None] >= lengths[:, None], 0), y))
    return out


class MaskedMean(nn.Module):
    """Sound: the mean of the real tokens' embeddings, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(64, 16, padding_idx=0)
        self.out = nn.Linear(16, CLASSES)

    def pooled(self, ids, mask):
        x = self.emb(ids) * mask.unsqueeze(-1)
        return x.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)

    def forward(self, ids, mask):
        return self.out(self.pooled(ids, mask))


class MixesTheBatch(MaskedMean):
    """Adds the batch's mean to each row: every example sees the others."""

    def forward(self, ids, mask):
        x = self.pooled(ids, mask)
        return self.out(x + x.mean(0, keepdim=True))


class Overconfident(MaskedMean):
    """Logits a hundred times too large at initialisation."""

    def forward(self, ids, mask):
        return 100.0 * super().forward(ids, mask)


class PaddedMean(MaskedMean):
    """Averages over the padded length, padding included."""

    def forward(self, ids, mask):
        return self.out((self.emb(ids) + 0.5).mean(1))


class CutOff(MaskedMean):
    """A layer defined but never used in forward: it never trains."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Linear(16, 16)


class IdsOnly(nn.Module):
    """A forward that takes the ids alone (EmbeddingBag ignores padding_idx rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(64, 16, mode="mean", padding_idx=0)
        self.out = nn.Linear(16, CLASSES)

    def forward(self, ids):
        return self.out(self.bag(ids))


def statuses(results: list[CheckResult]) -> dict[str, str]:
    return {r.name: r.status for r in results}


def test_a_sound_model_passes_every_model_check():
    results = run_model_checks(MaskedMean(), batches(), num_classes=CLASSES, lr=1e-2)
    assert all(isinstance(r, CheckResult) for r in results)
    assert statuses(results) == {name: "pass" for name in MODEL_CHECKS}, [
        r.summary for r in results
    ]
    init = results[0]
    assert init.numbers["expected_uniform"] == pytest.approx(1.0986, abs=1e-4)  # log 3


def test_a_model_that_takes_the_ids_alone_is_checked_too():
    results = run_model_checks(
        IdsOnly(),
        batches(),
        checks=["batch_independence", "padding_invariance", "init_loss"],
        embedding_module="bag",
    )
    assert statuses(results) == {
        "batch_independence": "pass",
        "padding_invariance": "pass",
        "init_loss": "pass",
    }, [r.summary for r in results]


@pytest.mark.parametrize(
    ("model", "check", "words"),
    [
        (MixesTheBatch, "batch_independence", "leak gradient"),
        (MixesTheBatch, "forward_independence", ""),
        (Overconfident, "init_loss", "too high"),
        (PaddedMean, "padding_invariance", "padding changes the output"),
        (CutOff, "gradient_flow", "unused"),
    ],
)
def test_a_model_built_to_fail_fails_its_check(model, check, words):
    [result] = run_model_checks(model(), batches(), checks=[check])
    assert result.status == "fail", result.summary
    assert words in result.summary or words in str(result.evidence), result.summary


def test_the_sound_model_passes_the_checks_the_broken_ones_fail():
    """The reference for the test above: the same checks on the sound model."""
    checks = [
        "batch_independence",
        "forward_independence",
        "init_loss",
        "padding_invariance",
        "gradient_flow",
    ]
    results = run_model_checks(MaskedMean(), batches(), checks=checks)
    assert set(statuses(results).values()) == {"pass"}, [r.summary for r in results]


def test_regression_with_mse_and_mapping_batches():
    gen = torch.Generator().manual_seed(1)
    rows = []
    for _ in range(3):
        ids = torch.randint(1, 60, (8, 6), generator=gen)
        rows.append(
            {"input_ids": ids, "attention_mask": ids != 0, "labels": ids.float().mean(1) / 60}
        )

    class Regress(MaskedMean):
        def __init__(self) -> None:
            super().__init__()
            self.out = nn.Linear(16, 1)

    results = run_model_checks(Regress(), rows, loss_fn=nn.MSELoss(), checks=["gradient_flow"])
    assert statuses(results) == {"gradient_flow": "pass"}, results[0].summary


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss_fn": "hinge"}, "'cross_entropy' (classification) or 'mse'"),
        ({"checks": ["human_baseline"]}, "not a model check: human_baseline"),
        ({"pad_id": 5}, "batch 1: the attention mask is not input_ids != pad_id"),
        ({"num_classes": 2}, "num_classes is 2 but a target is 2"),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs, message):
    data = [(ids, ids != 0, y) for ids, y in batches(1)]
    with pytest.raises(UserError) as error:
        run_model_checks(MaskedMean(), data, **kwargs)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_batches_of_the_wrong_shape_are_named():
    with pytest.raises(UserError, match="batch 2: 16 rows of input_ids but 3 targets"):
        run_model_checks(MaskedMean(), [batches(1)[0], (batches(1)[0][0], [0, 1, 2])])
    with pytest.raises(UserError, match="no batches"):
        run_model_checks(MaskedMean(), [])
