"""What a verdict was made for (tuirecipe.checks.fingerprint): the data's bytes, the model
and the settings a check reads, and the reason in words when they no longer match."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from support import REPO_ROOT

from tuirecipe.checks.fingerprint import CurrentInputs, Inputs, depends, stale_reason
from tuirecipe.config import config_from_dict, load_config
from tuirecipe.runs.launch import resolved_config


def write_csv(path: Path, extra: str = "") -> Path:
    rows = ["text,label"]
    for i in range(30):
        rows.append(f"good great fine {i},pos")
        rows.append(f"bad awful poor {i},neg")
    path.write_text("\n".join(rows) + "\n" + extra, encoding="utf-8")
    return path


def config_in(folder: Path, **sections) -> object:
    table = {"data": {"path": "a.csv"}, **sections}
    return config_from_dict(table, source=str(folder / "c.toml"), base_dir=str(folder))


def test_a_stamp_round_trips_and_matches_its_own_config(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv")
    inputs = CurrentInputs(config_in(tmp_path))
    stamp = json.loads(json.dumps(inputs.stamp("overfit_batch")))  # as an event stores it
    assert stamp["ran_on"] == "model textcnn, data a.csv"
    assert Inputs.from_dict(stamp["inputs"]).digest() == stamp["fingerprint"]
    assert inputs.judge("overfit_batch", stamp).current
    # the settings recorded are what the check reads, not where files live
    settings = stamp["inputs"]["settings"]
    assert settings["train.lr"] == 3e-4 and settings["data.max_len"] == 128
    assert "data.path" not in settings and "runs_dir" not in settings
    assert "train.threads" not in settings and "checks.only" not in settings


def test_the_worker_resolved_config_has_the_same_fingerprint(tmp_path: Path) -> None:
    """A check job runs on the run's resolved config (absolute paths, python_path filled
    in): its results must be current for the user's own config."""
    (tmp_path / "data").mkdir()
    write_csv(tmp_path / "data" / "a.csv")
    shutil.copy(REPO_ROOT / "sample_configs" / "example_model.py", tmp_path)
    user = config_in(
        tmp_path,
        data={"path": "data/a.csv"},
        model={"name": "example_model:build", "hidden": 32},
    )
    resolved = resolved_config(user)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.toml").write_text(resolved.to_toml(), encoding="utf-8")
    in_worker = load_config(tmp_path / "run" / "config.toml")
    in_worker.base_dir = str(tmp_path)  # as the worker restores it from meta.json
    for name in ("overfit_batch", "init_loss", "looked_at_data", "human_baseline"):
        assert (
            CurrentInputs(in_worker).stamp(name)["fingerprint"]
            == CurrentInputs(user).stamp(name)["fingerprint"]
        )
    assert CurrentInputs(user).model_source not in ("", "not found")


def test_same_bytes_elsewhere_match_and_edited_bytes_do_not(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv")
    stamp = CurrentInputs(config_in(tmp_path)).stamp("loss_decreases")
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "a.csv", tmp_path / "copy" / "a.csv")
    moved = config_in(tmp_path, data={"path": "copy/a.csv"})
    assert CurrentInputs(moved).judge("loss_decreases", stamp).current
    write_csv(tmp_path / "a.csv", extra="fine again,pos\n")
    verdict = CurrentInputs(config_in(tmp_path)).judge("loss_decreases", stamp)
    assert not verdict.current
    assert verdict.reason == "data a.csv has changed since — rerun"


def test_other_model_and_data_are_named(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv")
    write_csv(tmp_path / "b.csv", extra="one more,neg\n")
    stamp = CurrentInputs(config_in(tmp_path)).stamp("simple_baseline")
    now = config_in(tmp_path, data={"path": "b.csv"}, model={"name": "gru", "embed_dim": 32})
    verdict = CurrentInputs(now).judge("simple_baseline", stamp)
    # another model's table is no news: the embed_dim change is not listed
    assert verdict.reason == "ran on model textcnn, data a.csv — rerun"


def test_a_changed_setting_is_named_with_both_values(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv")
    stamp = CurrentInputs(config_in(tmp_path, train={"lr": 0.01})).stamp("overfit_batch")
    verdict = CurrentInputs(config_in(tmp_path)).judge("overfit_batch", stamp)
    assert verdict.reason == "ran with train.lr = 0.01 (now 0.0003) — rerun"


def test_each_check_depends_only_on_what_it_reads(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv")
    before = CurrentInputs(config_in(tmp_path))
    lr = CurrentInputs(config_in(tmp_path, train={"lr": 0.01}))
    model = CurrentInputs(config_in(tmp_path, model={"name": "gru"}))
    max_len = CurrentInputs(config_in(tmp_path, data={"path": "a.csv", "max_len": 16}))
    logging = CurrentInputs(config_in(tmp_path, train={"eval_every": 7, "threads": 1}))

    def same(check: str, after: CurrentInputs) -> bool:
        return after.judge(check, before.stamp(check)).current

    # the learning rate matters to a training check, not to the loss at initialisation
    assert not same("overfit_batch", lr) and same("init_loss", lr)
    # the model matters to the checks that build it, not to looking at the data
    assert not same("init_loss", model) and same("looked_at_data", model)
    assert same("input_view", model)
    # truncation changes the prepared data, not the rows a person read
    assert not same("input_view", max_len) and same("looked_at_data", max_len)
    # how often a long run logs never changes a verdict
    assert all(same(c, logging) for c in ("overfit_batch", "lr_range", "init_loss"))
    # the human baseline's own key is no other check's business
    count = CurrentInputs(config_in(tmp_path, checks={"human_baseline_examples": 5}))
    assert same("overfit_batch", count) and not same("human_baseline", count)
    # an unknown (new) check gets the conservative default
    assert depends("some_new_check").keys == ("seed", "train", "checks")
    assert not same("some_new_check", lr)


def test_user_model_source_edits_make_results_stale(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    source = tmp_path / "pkg" / "net.py"
    source.write_text("def build(spec):\n    return None\n", encoding="utf-8")
    config = config_in(tmp_path, model={"name": "pkg.net:build"})
    stamp = CurrentInputs(config).stamp("init_loss")
    assert CurrentInputs(config).judge("init_loss", stamp).current
    source.write_text("def build(spec):\n    return 1\n", encoding="utf-8")
    verdict = CurrentInputs(config).judge("init_loss", stamp)
    assert verdict.reason == "the source of model pkg.net:build has changed since — rerun"


def test_results_without_a_fingerprint_or_readable_data_are_stale(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv")
    inputs = CurrentInputs(config_in(tmp_path))
    old = {"name": "init_loss", "status": "pass", "summary": "ok"}
    verdict = inputs.judge("init_loss", old)
    assert not verdict.current
    assert verdict.reason == "ran before results were fingerprinted — rerun"
    damaged = {**inputs.stamp("init_loss"), "inputs": "not a table"}
    assert not inputs.judge("init_loss", damaged).current
    stamp = inputs.stamp("init_loss")
    (tmp_path / "a.csv").unlink()
    gone = CurrentInputs(config_in(tmp_path))  # no exception: the view must still draw
    verdict = gone.judge("init_loss", stamp)
    assert not verdict.current and "a.csv cannot be read" in verdict.reason


def test_a_dev_file_counts_and_the_split_fraction_then_does_not(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv")
    write_csv(tmp_path / "dev.csv", extra="x,pos\n")
    base = config_in(tmp_path, data={"path": "a.csv", "dev_path": "dev.csv"})
    stamp = CurrentInputs(base).stamp("loss_decreases")
    assert stamp["ran_on"] == "model textcnn, data a.csv (dev dev.csv)"
    other_fraction = config_in(
        tmp_path, data={"path": "a.csv", "dev_path": "dev.csv", "dev_fraction": 0.3}
    )
    assert CurrentInputs(other_fraction).judge("loss_decreases", stamp).current
    ungrouped = config_in(
        tmp_path, data={"path": "a.csv", "dev_path": "dev.csv", "split_groups": "none"}
    )
    assert CurrentInputs(ungrouped).judge("loss_decreases", stamp).current
    write_csv(tmp_path / "dev.csv", extra="y,neg\n")
    assert not CurrentInputs(base).judge("loss_decreases", stamp).current


def test_how_copies_are_split_counts_for_a_seeded_split(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv")
    stamp = CurrentInputs(config_in(tmp_path)).stamp("loss_decreases")
    ungrouped = CurrentInputs(config_in(tmp_path, data={"path": "a.csv", "split_groups": "none"}))
    verdict = ungrouped.judge("loss_decreases", stamp)
    assert verdict.reason == "ran with data.split_groups = case_space (now none) — rerun"
    # the rows a person read do not depend on how they are split
    assert ungrouped.judge(
        "looked_at_data", CurrentInputs(config_in(tmp_path)).stamp("looked_at_data")
    ).current


def test_the_reason_says_what_was_done_and_lists_at_most_three_settings() -> None:
    old = Inputs(data="a", data_label="a.csv", model="textcnn", settings={"seed": 1})
    now = Inputs(data="b", data_label="b.csv", model="textcnn", settings={"seed": 2})
    assert stale_reason(old, now, verb="ticked") == (
        "ticked on data a.csv; ticked with seed = 1 (now 2)"
    )
    many = Inputs(data="a", data_label="a.csv", settings={f"k{i}": i for i in range(5)})
    reason = stale_reason(many, Inputs(data="a", data_label="a.csv"))
    assert (
        reason == "ran with k0 = 0 (now unset), k1 = 1 (now unset), k2 = 2 (now unset) and 2 more"
    )
