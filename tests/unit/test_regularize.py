"""Regularisation knobs: focal loss, FGM/PGD on the embedding output, early stopping,
augmentation (issue 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from tuirecipe.config import AugmentConfig, load_config
from tuirecipe.data.augment import augment_split, augment_texts, augment_tokens, preview
from tuirecipe.errors import ConfigError
from tuirecipe.train.adversarial import EmbeddingAdversary, per_example_norm
from tuirecipe.train.losses import focal_loss

# -- focal loss ---------------------------------------------------------------------------


def test_focal_loss_with_gamma_zero_is_cross_entropy() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 5, generator=g) * 3
    y = torch.randint(0, 5, (64,), generator=g)
    assert torch.equal(focal_loss(logits, y, gamma=0.0), F.cross_entropy(logits, y))
    w = torch.tensor([0.5, 1.0, 2.0, 0.1, 3.0])
    assert torch.equal(
        focal_loss(logits, y, gamma=0.0, weight=w), F.cross_entropy(logits, y, weight=w)
    )


def test_focal_loss_down_weights_easy_examples() -> None:
    logits = torch.tensor([[6.0, 0.0], [0.2, 0.0]])  # an easy and a hard example
    y = torch.tensor([0, 0])
    ce = F.cross_entropy(logits, y, reduction="none")
    fl = torch.stack([focal_loss(logits[i : i + 1], y[i : i + 1], gamma=2.0) for i in range(2)])
    assert (fl < ce).all()
    assert fl[0] / ce[0] < 0.01 < fl[1] / ce[1]  # the easy one nearly vanishes
    p = torch.softmax(logits[1], 0)[0]
    torch.testing.assert_close(fl[1], -((1 - p) ** 2) * torch.log(p))


# -- adversarial --------------------------------------------------------------------------


class TinyModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 8, padding_idx=0)
        self.out = nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        e = self.emb(ids) * mask[..., None]
        return self.out(e.sum(1) / mask.sum(1, keepdim=True).clamp(min=1))


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 20, (6, 7), generator=g)
    return ids, ids != 0, torch.randint(0, 3, (6,), generator=g)


@pytest.mark.parametrize("method", ["fgm", "pgd"])
def test_adversary_perturbs_only_the_embedding_output_within_epsilon(method: str) -> None:
    torch.manual_seed(0)
    model = TinyModel()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adv = EmbeddingAdversary(model, F.cross_entropy, method=method, epsilon=0.5, alpha=0.2, steps=4)
    ids, mask, y = _batch()
    seen: list[torch.Tensor] = []
    model.out.register_forward_pre_hook(lambda m, inp: seen.append(inp[0].detach().clone()))
    clean_out = model(ids, mask)
    clean = F.cross_entropy(clean_out, y)
    adv_loss = adv.loss(ids, mask, y, clean)
    r = adv.last_r
    assert r.shape == (6, 7, 8)  # the embedding output's shape
    norms = per_example_norm(r).reshape(-1)
    assert (norms <= 0.5 + 1e-5).all()
    if method == "fgm":
        torch.testing.assert_close(norms, torch.full((6,), 0.5))
    # The perturbation moved the pooled embedding, and raised the loss …
    assert not torch.allclose(seen[0], seen[-1])
    assert adv_loss.item() > clean.item()
    # … but never the parameters: no weight changed and no gradient was accumulated.
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())
    # The adversarial loss reaches the parameters through backward.
    (clean + adv_loss).backward()
    assert model.emb.weight.grad is not None and model.out.weight.grad is not None
    # Outside training (and after the call) the model is untouched.
    with torch.no_grad():
        torch.testing.assert_close(model(ids, mask), clean_out.detach())


def test_fgm_direction_is_the_normalised_gradient() -> None:
    torch.manual_seed(0)
    model = TinyModel()
    adv = EmbeddingAdversary(model, F.cross_entropy, method="fgm", epsilon=1.0)
    ids, mask, y = _batch()
    emb_out: list[torch.Tensor] = []
    handle = model.emb.register_forward_hook(lambda m, i, o: emb_out.append(o))
    loss = F.cross_entropy(model(ids, mask), y)
    handle.remove()
    # The gradient w.r.t. the embedding output, computed independently.
    (g,) = torch.autograd.grad(loss, emb_out[0], retain_graph=True)
    adv.loss(ids, mask, y, loss)
    expected = g / g.reshape(6, -1).norm(dim=1).reshape(6, 1, 1)
    torch.testing.assert_close(adv.last_r, expected, rtol=1e-4, atol=1e-6)


# -- trainer integration ------------------------------------------------------------------


def _train(overrides: list[str]):
    from tuirecipe.data.prepare import prepare_data
    from tuirecipe.models import build_model, spec_for
    from tuirecipe.train.trainer import Trainer

    cfg = load_config(None, ["model.name=fasttext", "train.batch_size=64", *overrides])
    data = prepare_data(cfg)
    model = build_model(cfg, spec_for(cfg, data))
    events: list = []
    trainer = Trainer(model, data, cfg.train, seed=0, emit=events.append)
    return trainer, trainer.run(), events


def test_early_stopping_ends_finished_when_dev_loss_stops_improving() -> None:
    # A huge learning rate makes the dev loss bounce: patience 1 stops within a few evals.
    trainer, result, events = _train(
        [
            "train.lr=1.0",
            "train.eval_every=3",
            "train.max_steps=300",
            "train.early_stopping_patience=1",
        ]
    )
    assert result.state == "finished" and result.steps < 300
    evals = [e.metrics["loss"] for e in events if e.kind == "eval"]
    assert evals[-1] >= min(evals[:-1])  # it stopped on a non-improving eval
    assert any(e.kind == "log" and "early stopping" in e.message for e in events)


def test_adversarial_and_focal_training_runs() -> None:
    _, result, events = _train(
        ["train.max_steps=6", "train.adversarial=pgd", "train.adv_steps=2", "train.loss=focal"]
    )
    assert result.state == "finished" and result.steps == 6
    losses = [e.loss for e in events if e.kind == "step"]
    assert all(np.isfinite(losses))


def test_new_keys_are_validated_and_recorded() -> None:
    cfg = load_config(None, ["train.loss=focal", "augment.enabled=true", "augment.copies=2"])
    text = cfg.to_toml()
    for line in (
        'loss = "focal"',
        "focal_gamma = 2.0",
        "early_stopping_patience = 0",
        'adversarial = "none"',
        "[augment]",
        "copies = 2",
        "p_delete = 0.1",
    ):
        assert line in text
    for bad, key in (
        ("train.loss=hinge", "train.loss"),
        ("train.adversarial=fgsm", "train.adversarial"),
        ("augment.p_swap=1.5", "augment.p_swap"),
        ("train.adv_epsilon=0", "train.adv_epsilon"),
        ("train.early_stopping_patience=-1", "train.early_stopping_patience"),
    ):
        with pytest.raises(ConfigError) as info:
            load_config(None, [bad])
        assert key in str(info.value)


# -- augmentation -------------------------------------------------------------------------

VOCAB = ["alpha", "beta", "gamma", "delta"]


def test_augment_tokens_each_edit() -> None:
    rng = np.random.default_rng(0)
    toks = [f"w{i}" for i in range(200)]
    deleted = augment_tokens(toks, rng, AugmentConfig(p_delete=0.5, p_swap=0), VOCAB)
    assert 50 < len(deleted) < 150 and set(deleted) <= set(toks)
    swapped = augment_tokens(toks, rng, AugmentConfig(p_delete=0, p_swap=0.3), VOCAB)
    assert sorted(swapped) == sorted(toks) and swapped != toks
    inserted = augment_tokens(toks, rng, AugmentConfig(p_delete=0, p_swap=0, p_insert=0.3), VOCAB)
    assert [t for t in inserted if t.startswith("w")] == toks
    assert 30 < len(inserted) - len(toks) < 90 and set(inserted) - set(toks) <= set(VOCAB)
    replaced = augment_tokens(toks, rng, AugmentConfig(p_delete=0, p_swap=0, p_replace=0.3), VOCAB)
    assert len(replaced) == len(toks) and set(replaced) - set(toks) <= set(VOCAB)
    assert augment_tokens(["only"], rng, AugmentConfig(p_delete=1.0), VOCAB) == ["only"]


def test_augment_is_seeded() -> None:
    texts = ["the quick brown fox jumps over the lazy dog"] * 5
    cfg = AugmentConfig(enabled=True, copies=2, p_insert=0.2)
    a = augment_texts(texts, cfg, 3, VOCAB)
    assert a == augment_texts(texts, cfg, 3, VOCAB) and a != augment_texts(texts, cfg, 4, VOCAB)
    assert len(a) == 10


def test_augmented_training_split_keeps_labels_and_dev() -> None:
    from tuirecipe.data.prepare import prepare_data

    plain = prepare_data(load_config(None))
    aug = prepare_data(load_config(None, ["augment.enabled=true", "augment.copies=2"]))
    n = len(plain.train)
    assert len(aug.train) == 3 * n
    assert np.array_equal(aug.train.targets, np.tile(plain.train.targets, 3))
    assert np.array_equal(aug.train.rows, np.tile(plain.train.rows, 3))
    assert (
        aug.train.texts[:n] == plain.train.texts and aug.train.texts[n : 2 * n] != plain.train.texts
    )
    assert aug.dev.texts == plain.dev.texts and aug.vocab.itos == plain.vocab.itos
    assert aug.train.ids.shape[0] == 3 * n
    again = augment_split(
        plain.train, plain.vocab, AugmentConfig(enabled=True, copies=2), 0, plain.max_len
    )
    assert again.texts == aug.train.texts


def test_preview_pairs_each_original_with_its_augmented_text() -> None:
    pairs = preview(["a b c d e f", "g h i j k l", "m n o"], n=2, seed=1)
    assert len(pairs) == 2 and pairs[0][0] == "a b c d e f"
