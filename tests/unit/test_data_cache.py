"""The prepared-data cache: the same arrays as a fresh preparation, a key for everything
that changes the preparation (and nothing else), damaged entries made again, the cap."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from support.check_jobs import config, write_csv

from tuirecipe.config import config_from_dict
from tuirecipe.data import cache as cache_mod
from tuirecipe.data.cache import (
    CACHE_ENV,
    cache_dir,
    cache_key,
    prepare_cached,
    prune,
    read_entry,
)
from tuirecipe.data.prepare import prepare_data
from tuirecipe.runs.launch import prepare_run
from tuirecipe.train.job import load_data
from tuirecipe.tune.space import with_values
from tuirecipe.worker import JobContext


@pytest.fixture
def cfg(tmp_path: Path):
    write_csv(tmp_path / "a.csv")
    return config(tmp_path)


def assert_same(a, b) -> None:
    """Two PreparedData hold byte-identical arrays and equal everything else."""
    for name in ("train", "dev"):
        x, y = getattr(a, name), getattr(b, name)
        for field in ("ids", "lengths", "targets", "rows"):
            u, v = getattr(x, field), getattr(y, field)
            assert u.dtype == v.dtype and u.shape == v.shape, (name, field)
            assert u.tobytes() == v.tobytes(), (name, field)
        assert x.texts == y.texts and x.truncated == y.truncated and x.unk_rate == y.unk_rate
    assert a.vocab.itos == b.vocab.itos and a.vocab.lowercase == b.vocab.lowercase
    assert a.vocab.to_json() == b.vocab.to_json()
    assert a.label_names == b.label_names and a.class_counts == b.class_counts
    assert (a.target_mean, a.target_std, a.max_len) == (b.target_mean, b.target_std, b.max_len)
    assert a.report == b.report and a.dev_report == b.dev_report
    assert a.fingerprint() == b.fingerprint() and a.task == b.task


def test_a_cached_preparation_is_byte_identical_to_a_fresh_one(cfg) -> None:
    fresh = prepare_data(cfg, augment=False)
    made, first = prepare_cached(cfg)
    again, second = prepare_cached(cfg)
    assert not first.hit and first.written and first.path.is_file()
    assert second.hit and second.path == first.path and not second.damaged
    assert first.path.parent == cfg.runs_path / ".cache" / "prepared"
    assert_same(fresh, made)
    assert_same(fresh, again)


def test_regression_targets_and_unicode_texts_come_back_as_they_were(tmp_path: Path) -> None:
    rows = ["text,label"] + [f'"naïve — 日本 {i}, ""q""",{i * 0.5}' for i in range(30)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    cfg = config_from_dict(
        {"data": {"path": "r.csv", "task": "regression"}, "train": {"device": "cpu"}},
        source=str(tmp_path / "exp.toml"),
        base_dir=str(tmp_path),
    )
    fresh = prepare_data(cfg, augment=False)
    prepare_cached(cfg)
    again, use = prepare_cached(cfg)
    assert use.hit and again.train.targets.dtype == np.float32
    assert_same(fresh, again)


@pytest.mark.parametrize(
    "key, value",
    [
        ("data.lowercase", False),
        ("data.max_len", 7),
        ("data.min_freq", 2),
        ("data.max_vocab", 10),
        ("data.dev_fraction", 0.3),
        ("data.split_groups", "none"),
        ("data.text_column", "label"),
        ("seed", 1),
    ],
)
def test_each_data_setting_and_the_split_seed_change_the_key(cfg, key, value) -> None:
    assert cache_key(with_values(cfg, {key: value})) != cache_key(cfg)


def test_settings_outside_the_data_keep_the_key_and_the_seed_does_with_a_dev_file(
    cfg, tmp_path: Path
) -> None:
    other = with_values(
        cfg,
        {
            "train.lr": 0.5,
            "train.class_weights": True,
            "model.embed_dim": 32,
            "augment.enabled": True,  # applied after the cache, never stored in it
        },
    )
    assert cache_key(other) == cache_key(cfg)
    # a trial's resolved config names the file by its full path: the same entry
    assert cache_key(with_values(cfg, {"data.path": str(tmp_path / "a.csv")})) == cache_key(cfg)
    write_csv(tmp_path / "dev.csv", word="dev")
    a = with_values(cfg, {"data.dev_path": "dev.csv"})
    b = with_values(cfg, {"data.dev_path": "dev.csv", "seed": 9})
    before = cache_key(a)
    assert before == cache_key(b) != cache_key(cfg)  # no split: the seed does not matter
    write_csv(tmp_path / "dev.csv", word="changed")  # the dev file's content is in the key
    assert cache_key(a) != before


def test_editing_the_data_file_or_the_code_changes_the_key(cfg, tmp_path: Path, monkeypatch):
    before = cache_key(cfg)
    prepare_cached(cfg)
    write_csv(tmp_path / "a.csv", word="other")
    after = cache_key(cfg)
    assert after != before
    data, use = prepare_cached(cfg)
    assert not use.hit and "other" in " ".join(data.train.texts + data.dev.texts)
    monkeypatch.setattr(cache_mod, "_code_digest", "another version of tuirecipe.data")
    assert cache_key(cfg) != after
    assert not prepare_cached(cfg)[1].hit


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "other_key"])
def test_a_damaged_entry_is_removed_and_made_again(cfg, damage: str) -> None:
    fresh = prepare_data(cfg, augment=False)
    _, first = prepare_cached(cfg)
    raw = first.path.read_bytes()
    if damage == "truncate":
        first.path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":  # one byte inside the stored ids: the member's CRC fails
        at = raw.index(b"train.ids") + 200
        first.path.write_bytes(raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1 :])
    elif damage == "garbage":
        first.path.write_bytes(b"not a cache entry\n" * 10)
    elif damage == "empty":
        first.path.write_bytes(b"")
    else:  # a whole entry, but written for another key (a renamed file)
        cache_mod.write_entry(first.path, fresh, "0" * 32)
    with pytest.raises((ValueError, KeyError, EOFError, OSError, zipfile.BadZipFile)):
        read_entry(first.path, first.key)
    data, use = prepare_cached(cfg)
    assert use.damaged and not use.hit and use.written
    assert_same(fresh, data)
    assert prepare_cached(cfg)[1].hit  # the remade entry reads back


def test_an_unwritable_cache_still_prepares(cfg) -> None:
    folder = cache_dir(cfg)
    folder.parent.mkdir(parents=True)
    folder.write_text("a file where the folder should be")
    data, use = prepare_cached(cfg)
    assert not use.hit and not use.written
    assert_same(prepare_data(cfg, augment=False), data)


def test_the_cap_removes_the_least_recently_used_entries(tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    folder.mkdir()
    for i, name in enumerate(["old", "mid", "new"]):
        path = folder / f"{name}.npz"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1000 + i, 1000 + i))
    stale = folder / ".new.npz.ab12.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))
    fresh_tmp = folder / ".other.npz.cd34.tmp"
    fresh_tmp.write_bytes(b"being written")
    removed = prune(folder, cap=2000, keep=folder / "old.npz")
    assert {p.name for p in removed} == {"mid.npz", stale.name}
    assert {p.name for p in folder.iterdir()} == {"old.npz", "new.npz", fresh_tmp.name}
    assert prune(folder, cap=10**6) == []  # under the cap nothing goes


def test_a_worker_logs_and_records_the_reuse_and_augments_after_reading(cfg, monkeypatch) -> None:
    table = cfg.to_dict()
    augmented = config_from_dict(
        {**table, "augment": {**table["augment"], "enabled": True, "copies": 2}},
        source=cfg.source,
        base_dir=cfg.base_dir,
    )
    expected = prepare_data(augmented)  # augmentation as a run without the cache does it
    monkeypatch.setenv(CACHE_ENV, "1")
    uses = []
    for _ in range(2):
        run = prepare_run(augmented, "train")
        ctx = JobContext(run, augmented, {})
        try:
            data = load_data(ctx)
        finally:
            ctx.writer.close()
        assert_same(expected, data)
        logs = [e.message for e in run.events() if e.kind == "log"]
        uses.append((run.read_meta()["data_cache"], logs))
    (first, first_logs), (second, second_logs) = uses
    assert not first["hit"] and first["written"]
    assert any("prepared data written to" in line for line in first_logs)
    assert second["hit"] and second["key"] == first["key"]
    assert any("prepared data reused from the cache" in line for line in second_logs)


def test_without_the_pool_switch_a_worker_prepares_as_before(cfg, monkeypatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    run = prepare_run(cfg, "train")
    ctx = JobContext(run, cfg, {})
    try:
        load_data(ctx)
    finally:
        ctx.writer.close()
    assert "data_cache" not in run.read_meta()
    assert not cache_dir(cfg).exists()


def test_a_missing_data_file_is_the_same_one_line_error_as_without_the_cache(cfg) -> None:
    from tuirecipe.errors import DataError

    missing = with_values(cfg, {"data.path": "nowhere.csv"})
    with pytest.raises(DataError) as plain:
        prepare_data(missing, augment=False)
    with pytest.raises(DataError) as cached:
        prepare_cached(missing)
    assert str(cached.value) == str(plain.value) and "nowhere.csv" in str(cached.value)


def test_a_pretrained_model_keys_the_cache_on_its_encoder(cfg, monkeypatch) -> None:
    # model.name = "pretrained" encodes the rows with the encoder's own tokenizer: a model
    # setting that changes the preparation, so the encoder (path and files) is in the key
    import types

    import tuirecipe.data.encoders as encoders

    fingerprints = iter(["aaa", "bbb"])

    def fake_folder(path, **_):
        fingerprint = next(fingerprints)
        return types.SimpleNamespace(key=lambda: {"path": str(path), "fp": fingerprint})

    monkeypatch.setattr(encoders, "inspect_folder", fake_folder)
    pretrained = with_values(cfg, {"model.name": "pretrained", "model.encoder": "enc"})
    first, second = cache_key(pretrained), cache_key(pretrained)
    assert first != cache_key(cfg)  # word vocabulary vs the encoder's tokenizer
    assert first != second  # the encoder's files changed
