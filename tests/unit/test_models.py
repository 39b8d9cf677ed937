"""Built-in models, user-model loading, find_embedding and init_output_bias."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from tuirecipe.config import config_from_dict
from tuirecipe.errors import ModelError, UserError
from tuirecipe.models import (
    BUILTIN_MODELS,
    ModelSpec,
    build_model,
    find_embedding,
    init_output_bias,
    spec_for,
)
from tuirecipe.train import prior_entropy, seed_everything

USER_MODELS = Path(__file__).resolve().parents[1] / "support" / "user_models"
sys.path.insert(0, str(USER_MODELS))
from tiny_data import make_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {
    "embed_dim": 16,
    "hidden_dim": 24,
    "num_filters": 8,
    "num_heads": 2,
    "kernel_sizes": [3, 4, 5],
    "dropout": 0.1,
}


def small_config(name: str, **model: object):
    return config_from_dict(
        {"model": {"name": name, **SMALL, **model}}, source="test.toml", base_dir=str(USER_MODELS)
    )


def spec(task: str = "classification", num_outputs: int = 3, **options: object) -> ModelSpec:
    return ModelSpec(
        vocab_size=60,
        pad_id=0,
        num_outputs=num_outputs,
        max_len=10,
        task=task,
        options={**SMALL, **options},
    )


def tiny_batch() -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.tensor(
        [
            [5, 6, 7, 8, 9, 10],  # full row
            [4, 3, 0, 0, 0, 0],  # shorter than every kernel
            [0, 0, 0, 0, 0, 0],  # all padding (length 0)
            [11, 0, 0, 0, 0, 0],  # a single token
        ]
    )
    return ids, ids != 0


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_builtin_forward_backward_with_padding_rows(name: str) -> None:
    torch.manual_seed(0)
    model = BUILTIN_MODELS[name].build(spec(num_layers=2))
    ids, mask = tiny_batch()
    out = model(ids, mask)
    assert out.shape == (4, 3)
    assert torch.isfinite(out).all()
    out.sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    # a batch narrower than the widest kernel (2 columns < 5)
    out = model(ids[:, :2], mask[:, :2])
    assert out.shape == (4, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_builtin_rows_ignore_padding_and_batch_mates(name: str) -> None:
    # Dynamic padding must not change a row's output: each row alone, trimmed to its own
    # length, gives what it gives inside the padded batch.
    torch.manual_seed(0)
    model = BUILTIN_MODELS[name].build(spec()).eval()
    ids, mask = tiny_batch()
    with torch.no_grad():
        together = model(ids, mask)
        for r in range(len(ids)):
            width = max(int(mask[r].sum()), 1)
            alone = model(ids[r : r + 1, :width], mask[r : r + 1, :width])
            torch.testing.assert_close(alone[0], together[r], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_builtin_regression_head_and_long_mask(name: str) -> None:
    model = BUILTIN_MODELS[name].build(spec("regression", num_outputs=1))
    ids, mask = tiny_batch()
    out = model(ids, mask.long())  # an integer mask works as well as a boolean one
    assert out.shape == (4, 1) and torch.isfinite(out).all()


def test_builtins_have_no_batchnorm_and_a_first_embedding() -> None:
    for name, entry in BUILTIN_MODELS.items():
        model = entry.build(spec())
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
        assert find_embedding(model) is model.embedding, name


def test_build_model_from_config_uses_the_model_table() -> None:
    data = make_data(num_classes=3)
    config = small_config("textcnn", kernel_sizes=[2, 3], num_filters=5)
    s = spec_for(config, data)
    assert (s.vocab_size, s.pad_id, s.num_outputs, s.max_len) == (60, 0, 3, 12)
    assert s.options["kernel_sizes"] == [2, 3]
    model = build_model(config, s)
    assert [c.out_channels for c in model.convs] == [5, 5]
    reg = make_data("regression")
    assert spec_for(config, reg).num_outputs == 1


# -- user models -----------------------------------------------------------------------


def test_user_model_loads_with_its_own_options() -> None:
    data = make_data()
    config = small_config("tr_good_model.model:build", width=5)
    s = spec_for(config, data)
    assert s.options["width"] == 5
    model = build_model(config, s)
    assert model.tok.embedding_dim == 5
    ids, mask = tiny_batch()
    assert model(ids, mask).shape == (4, 2)


def test_user_model_found_through_python_path(tmp_path: Path) -> None:
    package = tmp_path / "models_dir" / "tr_pathpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import torch\ndef make(spec):\n    return torch.nn.Linear(2, spec.num_outputs)\n"
    )
    config = config_from_dict(
        {"model": {"name": "tr_pathpkg:make", "python_path": ["models_dir"]}},
        source="cfg.toml",
        base_dir=str(tmp_path),
    )
    model = build_model(config, spec_for(config, make_data()))
    assert isinstance(model, nn.Linear)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("tr_no_such_package.model:build", "module 'tr_no_such_package' not found"),
        ("tr_good_model.nope:build", "module 'tr_good_model.nope' not found"),
        (
            "tr_import_fails.model:build",
            "importing 'tr_import_fails.model' failed: ModuleNotFoundError: No module named "
            "'tuirecipe_test_package_that_does_not_exist' (at model.py:3)",
        ),
        ("tr_good_model.model:missing", "module 'tr_good_model.model' has no attribute 'missing'"),
        (
            "tr_build_raises.model:build",
            "build(spec) raised ValueError: hidden size must be even (at model.py:5)",
        ),
        ("tr_wrong_type.model:build", "build(spec) returned dict, not a torch.nn.Module"),
    ],
)
def test_user_model_mistakes_are_one_line_model_errors(name: str, expected: str) -> None:
    config = small_config(name)
    with pytest.raises(ModelError) as info:
        build_model(config, spec_for(config, make_data()))
    message = str(info.value)
    assert isinstance(info.value, UserError)
    assert "\n" not in message
    assert f"model '{name}'" in message
    assert expected in message
    assert message.startswith("test.toml: key 'model.name': ")
    # no chained traceback for the user's mistake
    assert info.value.__context__ is None or info.value.__suppress_context__


# -- embedding and output bias ---------------------------------------------------------


def test_find_embedding_by_name_and_missing() -> None:
    model = BUILTIN_MODELS["transformer"].build(spec())
    assert find_embedding(model, "positions") is model.positions
    with pytest.raises(ModelError, match="no module named 'nope'"):
        find_embedding(model, "nope")
    with pytest.raises(ModelError, match="no nn.Embedding"):
        find_embedding(nn.Sequential(nn.Linear(2, 2)))


def test_init_output_bias_gives_prior_entropy_at_init() -> None:
    data = make_data(num_classes=3, priors=[0.7, 0.2, 0.1], n_train=400)
    seed_everything(0)
    model = BUILTIN_MODELS["fasttext"].build(spec(num_outputs=3, dropout=0.0))
    with torch.no_grad():
        model.head.weight.zero_()  # every other contribution to the logits is 0
    assert init_output_bias(model, data)
    ids = torch.from_numpy(data.train.ids)
    targets = torch.from_numpy(data.train.targets)
    loss = F.cross_entropy(model(ids, ids != 0), targets).item()
    expected = prior_entropy(data.class_counts)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert expected < math.log(3) - 0.1  # the test can tell a prior from uniform


def test_init_output_bias_regression_and_no_output_layer() -> None:
    data = make_data("regression")
    model = BUILTIN_MODELS["bow_mlp"].build(spec("regression", num_outputs=1))
    assert init_output_bias(model, data)
    assert model.head.bias.item() == pytest.approx(data.target_mean)
    assert not init_output_bias(nn.Embedding(3, 3), data)


USER_FAULTS = {
    "tr_exits_on_import": (
        "import sys\nsys.exit(3)\n",
        "importing 'tr_exits_on_import' failed: SystemExit: 3",
    ),
    "tr_exits_in_build": (
        "import sys\ndef build(spec):\n    sys.exit('bye')\n",
        "build(spec) raised SystemExit: bye",
    ),
    "tr_no_parameters": (
        "import torch\nclass M(torch.nn.Module):\n"
        "    def forward(self, ids, mask):\n        return ids.float()\n"
        "def build(spec):\n    return M()\n",
        "returned a model with no trainable parameters",
    ),
    "tr_out_of_memory": (
        "def build(spec):\n    raise MemoryError()\n",
        "build(spec) ran out of memory",
    ),
}


@pytest.mark.parametrize("module", sorted(USER_FAULTS))
def test_a_user_model_that_exits_or_cannot_train_is_one_line(tmp_path: Path, module: str):
    source, expected = USER_FAULTS[module]
    (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
    config = config_from_dict(
        {"model": {"name": f"{module}:build"}}, source="test.toml", base_dir=str(tmp_path)
    )
    with pytest.raises(ModelError) as info:
        build_model(config, spec_for(config, make_data()))
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_file_in_the_config_folder_does_not_replace_a_standard_module(tmp_path: Path):
    # colorsys.py beside the config must not shadow the standard library's colorsys
    (tmp_path / "colorsys.py").write_text("raise RuntimeError('shadowed')\n", encoding="utf-8")
    (tmp_path / "tr_uses_colorsys.py").write_text(
        "import colorsys, torch\n"
        "def build(spec):\n"
        "    assert colorsys.rgb_to_hsv(1, 0, 0)[0] == 0\n"
        "    return torch.nn.Linear(2, spec.num_outputs)\n",
        encoding="utf-8",
    )
    sys.modules.pop("colorsys", None)
    config = config_from_dict(
        {"model": {"name": "tr_uses_colorsys:build"}}, source="test.toml", base_dir=str(tmp_path)
    )
    assert isinstance(build_model(config, spec_for(config, make_data())), nn.Linear)


def test_a_builtin_model_too_big_for_memory_names_the_knobs(monkeypatch) -> None:
    import types

    from tuirecipe.models import registry

    def huge(spec):  # what torch raises for a 4 TB embedding (not allocated for real)
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: 4000000000000 bytes")

    entries = dict(registry.BUILTIN_MODELS)
    entries["textcnn"] = types.SimpleNamespace(build=huge)
    monkeypatch.setattr(registry, "BUILTIN_MODELS", entries)
    config = small_config("textcnn")
    with pytest.raises(ModelError) as info:
        build_model(config, spec_for(config, make_data()))
    assert "does not fit in memory" in str(info.value) and "model.embed_dim" in str(info.value)
