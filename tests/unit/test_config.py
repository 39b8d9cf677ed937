"""Config: defaults, overrides, and a one-line error naming file and key for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuirecipe.config import (
    Config,
    apply_overrides,
    config_from_dict,
    demo_config,
    diff_configs,
    load_config,
    parse_override,
)
from tuirecipe.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "cfg.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_a_valid_demo_config() -> None:
    config = demo_config()
    assert config.data.path == "demo"
    assert config.train.lr == pytest.approx(3e-4)
    assert config.model.name == "textcnn"


def test_round_trip_through_toml(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[train]\nlr = 0.001\n[model]\nkernel_sizes = [2, 3]\n"))
    again = load_config(write(tmp_path, config.to_toml(), "again.toml"))
    assert again.to_dict() == config.to_dict()


def test_int_is_accepted_for_a_float(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "[train]\nlr = 1\n")).train.lr == 1.0


@pytest.mark.parametrize(
    "text, key, words",
    [
        ("[train]\nlrr = 0.1\n", "train.lrr", "unknown key"),
        ("colour = 'red'\n", "colour", "unknown key"),
        ("[train]\nlr = 'fast'\n", "train.lr", "must be a number"),
        ("[train]\nbatch_size = 3.5\n", "train.batch_size", "must be an integer"),
        ("[train]\nepochs = true\n", "train.epochs", "must be an integer"),
        ("[train]\nlr = 0\n", "train.lr", "greater than 0"),
        ("[train]\nlr = -0.1\n", "train.lr", "greater than 0"),
        ("[train]\nbatch_size = 0\n", "train.batch_size", "at least 1"),
        ("[data]\nmax_len = 0\n", "data.max_len", "at least 1"),
        ("[data]\ntask = 'ranking'\n", "data.task", "must be one of"),
        ("[model]\nname = 'resnet'\n", "model.name", "unknown model"),
        ("[model]\nkernel_sizes = [3, 'x']\n", "model.kernel_sizes", "must be a list of integers"),
        ("train = 3\n", "train", "must be a table"),
        ("name = '../../x'\n", "name", "not a valid run name"),
        ("[data]\ndev_fraction = 1.5\n", "data.dev_fraction", "between 0 and 1"),
        ("seed = 18446744073709551616\n", "seed", "between 0 and 9223372036854775807"),
        ("[train]\nlr = inf\n", "train.lr", "must be a finite number, got inf"),
        ("[train]\nweight_decay = nan\n", "train.weight_decay", "must be a finite number"),
        ("[train]\nthreads = 100000\n", "train.threads", "up to 1024"),
        ("[augment]\ncopies = 100000000\n", "augment.copies", "between 1 and 100"),
        (
            "[data]\nsplit_groups = 'lowercase'\n",
            "data.split_groups",
            "must be one of case_space, exact, none, got 'lowercase'",
        ),
    ],
)
def test_each_mistake_names_file_and_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert f"key '{key}'" in message
    assert words in message
    assert "\n" not in message


def test_missing_file_and_directory_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[train\nlr=1"))
    binary = tmp_path / "blob.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01binary")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_config(binary)


def test_overrides_parse_toml_values_or_bare_strings() -> None:
    assert parse_override("train.lr=1e-3") == (["train", "lr"], 1e-3)
    assert parse_override("model.kernel_sizes=[2,3]") == (["model", "kernel_sizes"], [2, 3])
    assert parse_override("data.path=my.csv") == (["data", "path"], "my.csv")
    assert parse_override("data.lowercase=false") == (["data", "lowercase"], False)
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("train.lr")


def test_overrides_apply_and_are_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "[train]\nlr = 0.1\n")
    assert load_config(path, ["train.lr=0.5", "train.epochs=7"]).train.epochs == 7
    with pytest.raises(ConfigError) as info:
        load_config(path, ["train.batch_size=0"])
    assert "train.batch_size" in str(info.value) and "--set" in str(info.value)
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(path, ["train.nope=1"])
    with pytest.raises(ConfigError) as info:
        load_config(path, ["data.split_groups=Exact"])
    assert "key 'data.split_groups'" in str(info.value) and "\n" not in str(info.value)
    assert load_config(path, ["data.split_groups=none"]).data.split_groups == "none"
    table = apply_overrides({}, ["a.b.c=1"])
    assert table == {"a": {"b": {"c": 1}}}


def test_user_model_table_keeps_its_own_keys() -> None:
    config = config_from_dict({"model": {"name": "mypkg.models:build", "width": 17}})
    assert config.model.options == {"width": 17}
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({"model": {"name": "gru", "width": 17}})
    with pytest.raises(ConfigError, match="package.module:function"):
        config_from_dict({"model": {"name": "mypkg.models:"}})


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    sub = tmp_path / "proj"
    sub.mkdir()
    config = load_config(write(sub, "[data]\npath = 'data/x.csv'\n"))
    assert config.resolve_path(config.data.path) == sub.resolve() / "data" / "x.csv"


def test_diff_configs_lists_changed_keys() -> None:
    a = Config().to_dict()
    b = config_from_dict({"train": {"lr": 0.1}}).to_dict()
    assert diff_configs(a, b) == {"train.lr": (3e-4, 0.1)}


# search_space.toml is a search space (tests/functional/test_tune.py loads it), not a config.
@pytest.mark.parametrize(
    "sample",
    sorted(p for p in (REPO / "sample_configs").glob("*.toml") if p.name != "search_space.toml"),
    ids=lambda p: p.name,
)
def test_sample_configs_load(sample: Path) -> None:
    load_config(sample)


def test_a_config_saved_with_a_utf8_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[train]\nlr = 0.01\n")
    assert load_config(path).train.lr == 0.01


def test_a_saved_config_reads_back_whatever_characters_its_strings_hold() -> None:
    import tomllib

    from tuirecipe.config import config_from_dict

    odd = 'data/ctl\x01x "q" \\ tab\there\nnew[/]é.csv'
    config = config_from_dict({"data": {"path": odd, "text_column": "x\x7fy"}}, base_dir=".")
    again = tomllib.loads(config.to_toml())
    assert again["data"]["path"] == odd and again["data"]["text_column"] == "x\x7fy"


def test_config_with_changes_validates_like_a_file_and_gives_the_diff():
    from tuirecipe.config import config_with_changes

    base = demo_config()
    changed, diff = config_with_changes(base, "train.lr=1e-3 model.dropout=0.25")
    assert changed.train.lr == 1e-3 and changed.model.dropout == 0.25
    assert diff == {"model.dropout": (base.model.dropout, 0.25), "train.lr": (base.train.lr, 1e-3)}
    assert changed.source == base.source and changed.base_dir == base.base_dir
    assert base.train.lr != 1e-3  # the console's config is left as it was
    quoted, diff = config_with_changes(base, "data.path='my file.csv'")
    assert quoted.data.path == "my file.csv" and list(diff) == ["data.path"]
    assert config_with_changes(base, "  ")[1] == {}


@pytest.mark.parametrize(
    "changes, names",
    [
        ("train.lr=-1", "key 'train.lr'"),
        ("train.lr=fast", "key 'train.lr'"),
        ("train.nope=2", "key 'train.nope'"),
        ("lr", "'lr' is not of the form section.key=value"),
        ("data.path='unclosed", "cannot be read"),
    ],
)
def test_config_with_changes_names_the_key_of_a_bad_change(changes, names):
    from tuirecipe.config import config_with_changes

    with pytest.raises(ConfigError) as err:
        config_with_changes(demo_config(), changes, source="changes")
    message = str(err.value)
    assert names in message and message.startswith("changes") and "\n" not in message
