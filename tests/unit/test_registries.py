"""One registry per concept: every built-in model and every check is declared once, and
everything that lists them (config validation, the builder, the README) agrees with it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from tuirecipe.checks.base import all_checks
from tuirecipe.config import config_from_dict
from tuirecipe.errors import ConfigError, ModelError
from tuirecipe.models import BUILTIN_MODELS, build_model, spec_for
from tuirecipe.models.catalog import shared_defaults

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
USER_MODELS = Path(__file__).resolve().parents[1] / "support" / "user_models"
sys.path.insert(0, str(USER_MODELS))
from tiny_data import make_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"embed_dim": 16, "hidden_dim": 24, "num_filters": 8, "num_heads": 2, "dropout": 0.0}


def _models_paragraph() -> str:
    return README[README.index("Models (`model.name`") :].split("\n\n", 1)[0]


def _readme_section(title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_every_registered_model_builds_from_a_config_and_trains_a_step(
    name: str, task: str
) -> None:
    config = config_from_dict({"model": {"name": name, **SMALL}}, source="m.toml")
    data = make_data(task, n_train=32, n_dev=8)
    torch.manual_seed(0)
    model = build_model(config, spec_for(config, data)).train()
    ids = torch.from_numpy(data.train.ids)
    targets = torch.from_numpy(data.train.targets)

    def loss_now() -> torch.Tensor:
        out = model(ids, ids != 0)
        if task == "classification":
            assert out.shape == (len(ids), len(data.class_counts))
            return F.cross_entropy(out, targets)
        assert out.shape == (len(ids), 1)
        return F.mse_loss(out.squeeze(1), targets)

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    before = loss_now()
    assert torch.isfinite(before)
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss_now()
    assert after < before  # the step went downhill on the batch it was computed on


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_every_registered_model_validates_and_is_in_the_readme(name: str) -> None:
    config = config_from_dict({"model": {"name": name}}, source="m.toml")
    assert config.model.name == name
    assert f"`{name}`" in _models_paragraph()


def test_an_unknown_model_is_one_line_listing_the_registry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"model": {"name": "resnet9000"}}, source="m.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("m.toml: key 'model.name': unknown model 'resnet9000'")
    assert f"use one of {', '.join(BUILTIN_MODELS)} or" in message
    # The builder refuses with the same line (a config built without validation).
    config = config_from_dict({}, source="m.toml", base_dir=str(tmp_path))
    config.model.name = "resnet9000"
    with pytest.raises(ModelError, match=f"use one of {', '.join(BUILTIN_MODELS)} or"):
        build_model(config, spec_for(config, make_data(n_train=8, n_dev=4)))


def test_registry_defaults_come_from_the_config_and_the_models_own() -> None:
    model_table = config_from_dict({}).model
    shared = shared_defaults()
    assert shared["embed_dim"] == model_table.embed_dim
    assert shared["kernel_sizes"] == model_table.kernel_sizes
    assert not {"name", "options", "python_path", "embedding_module"} & set(shared)
    assert BUILTIN_MODELS["gru"].defaults()["bidirectional"] is True
    for entry in BUILTIN_MODELS.values():
        entry.builder_class()  # every declared builder exists


def test_the_models_section_of_the_readme_names_every_model() -> None:
    named = re.findall(r"`([a-z_]+)`\s\(", _models_paragraph())
    assert named == list(BUILTIN_MODELS)


def test_every_registered_check_is_in_the_readmes_checks_list() -> None:
    section = _readme_section("Checks")
    listed = re.findall(r"`([a-z_]+)`", section)
    names = [c.name for c in all_checks()]
    assert sorted(set(listed) - {"tuirecipe"}) == sorted(names)


def test_the_check_catalog_imports_every_module_that_registers_a_check() -> None:
    import tuirecipe.checks.catalog as catalog

    folder = Path(catalog.__file__).parent
    registering = {
        path.stem
        for path in folder.glob("*.py")
        if re.search(r"^@register\b", path.read_text(encoding="utf-8"), re.M)
    }
    text = Path(catalog.__file__).read_text(encoding="utf-8")
    imported = set(re.findall(r"^\s+([a-z_]+),$", text, re.M))
    assert registering == imported
    assert {c.__module__.rsplit(".", 1)[-1] for c in all_checks()} == registering


def test_the_sample_configs_model_choices_are_the_registry() -> None:
    text = (REPO / "sample_configs" / "text_classification.toml").read_text(encoding="utf-8")
    (choices,) = re.findall(r"start simple: (.+)$", text, re.M)
    assert [c.strip() for c in choices.split("|")] == list(BUILTIN_MODELS)
