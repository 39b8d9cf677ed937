"""Leak-free splits (tuirecipe.data.splits with ``data.split_groups``): every copy of a
text on one side of the dev split and in one fold, classes still stratified, the old
ungrouped split unchanged under ``"none"``, and no dev row of the real sets with a copy in
training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REAL_DATA, requires_real_data

from tuirecipe.config import config_from_dict, load_config
from tuirecipe.data import prepare_data
from tuirecipe.data.splits import (
    overlap_from_codes,
    split_group_codes,
    split_overlap,
    stratified_kfold,
    stratified_split,
)
from tuirecipe.errors import DataError
from tuirecipe.runs.launch import prepare_run

# -- a set whose duplicate groups are known by construction ------------------------------


def grouped_set() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """615 rows in 3 classes (about 50/30/20 %): 420 texts of their own and 40 groups of
    copies (2 to 8 rows; in odd groups the copies differ in case and spacing); 4 groups
    carry two labels. Returns the frame and each row's known group at the ``exact`` and
    at the ``case_space`` level."""
    rng = np.random.default_rng(0)
    classes = np.array(["pos"] * 5 + ["neg"] * 3 + ["neu"] * 2)
    texts, labels, exact, space = [], [], [], []
    for i in range(420):
        texts.append(f"review number {i} says {'good bad meh'.split()[i % 3]}")
        labels.append(classes[i % 10])
        exact.append(f"u{i}")
        space.append(f"u{i}")
    for g in range(40):
        base = f"copied text {g} with some words"
        forms = [base, base.upper(), f"  {base.replace(' ', '   ')}\t", base.title()]
        label = classes[(g * 3) % 10]
        for j in range(2 + g % 7):
            form = forms[j % len(forms)] if g % 2 else base  # odd groups: case/space variants
            texts.append(form)
            conflict = g % 10 == 9 and j == 0  # these groups are "neg" otherwise
            labels.append("neu" if conflict else label)
            exact.append(f"g{g}:{form}")
            space.append(f"g{g}")
    order = rng.permutation(len(texts))
    frame = pd.DataFrame({"text": texts, "label": labels}).iloc[order].reset_index(drop=True)
    return frame, np.array(exact)[order], np.array(space)[order]


def straddling(known: np.ndarray, side: np.ndarray) -> int:
    """How many known groups have rows on more than one side (or in more than one fold)."""
    return int(pd.Series(side).groupby(known).nunique().gt(1).sum())


def dev_side(n: int, dev: np.ndarray) -> np.ndarray:
    side = np.zeros(n, dtype=int)
    side[dev] = 1
    return side


def fold_of(n: int, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    out = np.full(n, -1)
    for i, (_, held) in enumerate(folds):
        out[held] = i
    return out


@pytest.mark.parametrize(("level", "known_index"), [("exact", 1), ("case_space", 2)])
def test_no_group_straddles_train_and_dev_or_two_folds(level: str, known_index: int) -> None:
    built = grouped_set()
    frame, known = built[0], built[known_index]
    y, n = frame["label"].to_numpy(), len(frame)
    groups = split_group_codes(frame["text"], level)
    assert frame.groupby(built[2])["label"].nunique().gt(1).sum() == 4  # the conflicts
    # the codes are exactly the groups built in
    assert len(np.unique(groups)) == len(np.unique(known))
    assert straddling(known, groups) == 0 and straddling(groups, known) == 0
    for seed in range(5):
        train, dev = stratified_split(y, 0.2, seed, "classification", groups=groups)
        assert straddling(known, dev_side(n, dev)) == 0
        assert straddling(known, fold_of(n, stratified_kfold(y, 5, seed, groups=groups))) == 0
        _, reg_dev = stratified_split(np.arange(n, dtype=float), 0.2, seed, "regression", groups)
        assert straddling(known, dev_side(n, reg_dev)) == 0
        reg_folds = stratified_kfold(np.arange(n, dtype=float), 4, seed, "regression", groups)
        assert straddling(known, fold_of(n, reg_folds)) == 0
    # the same set split row by row does leak: the test above can fail
    _, dev = stratified_split(y, 0.2, 0, "classification")
    assert straddling(known, dev_side(n, dev)) > 5
    assert straddling(known, fold_of(n, stratified_kfold(y, 5, 0))) > 10


def test_the_splitter_and_the_profile_agree_on_what_one_group_is() -> None:
    from tuirecipe.data.profile.normalize import build_text_index

    texts = grouped_set()[0]["text"].tolist() + ["Tab\there", "tab here", "TAB  HERE ", ""]
    index = build_text_index(pd.Series(texts))
    for level, profile_codes in (("exact", index.exact_codes), ("case_space", index.space_codes)):
        codes = split_group_codes(texts, level)
        assert straddling(codes, profile_codes) == 0 and straddling(profile_codes, codes) == 0


def test_exact_groups_leave_case_and_space_copies_apart() -> None:
    frame, _, space = grouped_set()
    groups = split_group_codes(frame["text"], "exact")
    sides = [
        dev_side(len(frame), stratified_split(frame["label"], 0.2, s, "classification", groups)[1])
        for s in range(5)
    ]
    assert sum(straddling(space, side) for side in sides) > 0


def test_grouped_splits_stay_stratified_and_close_to_the_dev_fraction() -> None:
    frame, _, space = grouped_set()
    y, n = frame["label"].to_numpy(), len(frame)
    groups = split_group_codes(frame["text"], "case_space")
    whole = pd.Series(y).value_counts(normalize=True)
    for seed in range(5):
        train, dev = stratified_split(y, 0.2, seed, "classification", groups=groups)
        assert sorted(np.concatenate([train, dev]).tolist()) == list(range(n))
        assert abs(len(dev) - 0.2 * n) <= 3
        shares = pd.Series(y[dev]).value_counts(normalize=True)
        assert (shares - whole).abs().max() < 0.01
        folds = stratified_kfold(y, 5, seed, groups=groups)
        held = np.concatenate([h for _, h in folds])
        assert sorted(held.tolist()) == list(range(n))
        for train_part, held_out in folds:
            assert abs(len(held_out) - n / 5) <= 2
            assert len(np.intersect1d(train_part, held_out)) == 0
            assert len(train_part) + len(held_out) == n
            fold_shares = pd.Series(y[held_out]).value_counts(normalize=True)
            assert (fold_shares - whole).abs().max() < 0.02


def test_same_seed_same_split_sorted_and_another_seed_another() -> None:
    frame, _, _ = grouped_set()
    y = frame["label"].to_numpy()
    groups = split_group_codes(frame["text"], "case_space")
    train, dev = stratified_split(y, 0.2, 3, "classification", groups=groups)
    again = stratified_split(y, 0.2, 3, "classification", groups=groups.copy())
    assert np.array_equal(train, again[0]) and np.array_equal(dev, again[1])
    assert np.all(np.diff(train) > 0) and np.all(np.diff(dev) > 0)
    assert train.dtype == dev.dtype == np.int64
    assert not np.array_equal(dev, stratified_split(y, 0.2, 4, "classification", groups)[1])
    folds = stratified_kfold(y, 5, 3, groups=groups)
    assert all(
        np.array_equal(a[1], b[1]) for a, b in zip(folds, stratified_kfold(y, 5, 3, groups=groups))
    )
    assert all(np.all(np.diff(h) > 0) and np.all(np.diff(t) > 0) for t, h in folds)
    # codes are only compared for equality: other numbers for the same groups, same split
    renamed = groups * 7 + 1000
    assert np.array_equal(dev, stratified_split(y, 0.2, 3, "classification", renamed)[1])


# -- "none" and sets without copies: the split of before ---------------------------------

LABELS = [("a", "b", "b", "c", "a", "a", "c")[i % 7] for i in range(50)] + ["solo"]
# What the splitter gave before groups existed (seed 5), for these labels.
OLD_DEV = [7, 8, 13, 14, 15, 17, 22, 33, 34, 35]
OLD_REGRESSION_DEV = [2, 7, 9, 19, 23, 24]
OLD_FOLDS = [
    [3, 4, 18, 19, 22, 26, 27, 29, 33, 37, 38, 41, 49],
    [8, 10, 13, 14, 16, 28, 31, 32, 35, 39, 42, 44, 48],
    [1, 15, 17, 20, 21, 25, 36, 40, 43, 45, 46, 47, 50],
    [0, 2, 5, 6, 7, 9, 11, 12, 23, 24, 30, 34],
]
OLD_REGRESSION_FOLDS = [
    [2, 10, 11, 13, 18, 21, 23, 25, 26, 29],
    [0, 1, 5, 12, 17, 19, 20, 24, 27, 28],
    [3, 4, 6, 7, 8, 9, 14, 15, 16, 22],
]


def test_none_gives_the_split_of_before() -> None:
    texts = ["same text"] * len(LABELS)  # one big group, which "none" must ignore
    assert split_group_codes(texts, "none") is None
    groups = split_group_codes(texts, "none")
    assert stratified_split(LABELS, 0.2, 5, "classification", groups)[1].tolist() == OLD_DEV
    reg = np.arange(30.0)
    assert stratified_split(reg, 0.2, 5, "regression", groups)[1].tolist() == OLD_REGRESSION_DEV
    assert [h.tolist() for _, h in stratified_kfold(LABELS, 4, 5, groups=groups)] == OLD_FOLDS
    reg_folds = stratified_kfold(reg, 3, 5, "regression", groups)
    assert [h.tolist() for _, h in reg_folds] == OLD_REGRESSION_FOLDS


def test_a_set_without_copies_splits_as_before_whatever_the_level() -> None:
    texts = [f"text {i}" for i in range(len(LABELS))]
    reg = np.arange(30.0)
    for level in ("exact", "case_space"):
        groups = split_group_codes(texts, level)
        assert stratified_split(LABELS, 0.2, 5, "classification", groups)[1].tolist() == OLD_DEV
        reg_dev = stratified_split(reg, 0.2, 5, "regression", groups[:30])[1]
        assert reg_dev.tolist() == OLD_REGRESSION_DEV
        folds = stratified_kfold(LABELS, 4, 5, groups=groups)
        assert [h.tolist() for _, h in folds] == OLD_FOLDS
        reg_folds = stratified_kfold(reg, 3, 5, "regression", groups[:30])
        assert [h.tolist() for _, h in reg_folds] == OLD_REGRESSION_FOLDS


# -- corner cases ------------------------------------------------------------------------


def test_classes_that_cannot_be_on_both_sides_go_to_train() -> None:
    labels = ["a"] * 40 + ["b"] * 20 + ["solo"] + ["trio"] * 3
    texts = [f"a{i}" for i in range(40)] + [f"b{i // 2}" for i in range(20)]
    texts += ["only one", "three copies", "Three  copies", "three copies"]
    for level in ("exact", "case_space"):
        groups = split_group_codes(texts, level)
        train, dev = stratified_split(labels, 0.25, 1, "classification", groups)
        assert 60 in train  # the single "solo" row
        if level == "case_space":  # all of "trio" is one group: it cannot be split
            assert {61, 62, 63} <= set(train.tolist())
        assert abs(len(dev) - 0.25 * 60) <= 2


def test_tiny_sets_and_one_text_everywhere() -> None:
    assert stratified_split(["x"], 0.5, 0, "classification", [0])[1].tolist() == []
    # two rows, one text: no way to split
    train, dev = stratified_split(["a", "a"], 0.5, 0, "classification", groups=[4, 4])
    assert train.tolist() == [0, 1] and dev.tolist() == []
    train, dev = stratified_split([1.0, 2.0, 3.0], 0.5, 0, "regression", groups=[0, 0, 0])
    assert dev.tolist() == []
    # two texts: one on each side, whatever the fraction
    for fraction in (0.01, 0.99):
        train, dev = stratified_split(["a"] * 5, fraction, 0, "classification", [0, 0, 1, 1, 1])
        assert len(train) and len(dev) and len(set(np.array([0, 0, 1, 1, 1])[dev])) == 1
    # more classes than dev slots: a shuffle, still whole groups
    train, dev = stratified_split(
        list("aabbccdd"), 0.1, 0, "classification", [0, 1, 2, 2, 3, 4, 5, 6]
    )
    assert len(dev) in (1, 2) and len(train) + len(dev) == 8
    with pytest.raises(ValueError, match="distinct texts"):
        stratified_kfold(["a"] * 6, 4, 0, groups=[0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="6 entries for 5 rows"):
        stratified_split(["a"] * 5, 0.2, 0, "classification", groups=[0] * 6)


def test_a_group_bigger_than_dev_stays_in_train_and_no_fold_is_empty() -> None:
    labels = ["a"] * 100
    groups = [0] * 30 + list(range(1, 71))
    for seed in range(10):
        train, dev = stratified_split(labels, 0.1, seed, "classification", groups)
        assert set(range(30)) <= set(train.tolist()) and len(dev) == 10
    # fewer single rows than folds, one group holding most rows
    groups = [0] * 20 + [1, 2, 3]
    for seed in range(10):
        folds = stratified_kfold(["a"] * 23, 4, seed, groups=groups)
        assert all(len(held) >= 1 for _, held in folds)
        assert straddling(np.array(groups), fold_of(23, folds)) == 0


# -- what the split did -----------------------------------------------------------------


def test_split_overlap_counts_dev_rows_with_a_copy_in_train() -> None:
    train = ["a b", "X", "kept"]
    dev = ["A  b", "x", "a b", "new", "a b"]
    assert split_overlap(train, dev) == {"exact": 2, "case_space": 4}
    assert split_overlap(train, ["new", "other"]) == {"exact": 0, "case_space": 0}
    assert split_overlap(pd.Series(train), pd.Series(["kept "])) == {"exact": 0, "case_space": 1}
    # the same from codes at hand (a profile's index of train + dev) and row indices
    codes = {
        "exact": np.array([0, 1, 2, 3, 4, 0, 5, 0]),
        "case_space": np.array([0, 1, 2, 0, 1, 0, 3, 0]),
    }
    rows_train, rows_dev = np.arange(3), np.arange(3, 8)
    assert overlap_from_codes(codes, rows_train, rows_dev) == {"exact": 2, "case_space": 4}


def test_the_option_is_in_the_run_config_and_the_data_fingerprint(tmp_path: Path) -> None:
    rows = [f"{w} thing {i % 30},{w[:3]}" for i in range(80) for w in ("good", "bad")]
    (tmp_path / "t.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    config = config_from_dict({"data": {"path": "t.csv"}}, base_dir=str(tmp_path))
    assert config.data.split_groups == "case_space"
    assert 'split_groups = "case_space"' in config.to_toml()
    prepared = prepare_data(config)
    assert prepared.fingerprint()["split_groups"] == "case_space"
    assert split_overlap(prepared.train.texts, prepared.dev.texts)["exact"] == 0
    leaky = config_from_dict(
        {"data": {"path": "t.csv", "split_groups": "none"}}, base_dir=str(tmp_path)
    )
    prepared = prepare_data(leaky)
    assert prepared.fingerprint()["split_groups"] == "none"
    assert split_overlap(prepared.train.texts, prepared.dev.texts)["exact"] > 0
    run = prepare_run(leaky)  # the run directory's config.toml records it
    assert load_config(run.config_path).data.split_groups == "none"


def test_copies_of_too_few_texts_to_split_name_the_option(tmp_path: Path) -> None:
    rows = ["good film,pos"] * 10 + ["Good  film,pos"] * 5 + ["bad film,neg"] * 10
    (tmp_path / "t.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    config = config_from_dict({"data": {"path": "t.csv"}}, base_dir=str(tmp_path))
    with pytest.raises(DataError) as info:
        prepare_data(config)
    message = str(info.value)
    assert "key 'data.split_groups'" in message and "25 rows" in message
    assert "\n" not in message and message.count("t.csv") == 1
    # with copies of two texts in each class, the texts can be kept apart
    more = rows + ["awful film,neg"] * 4 + ["great film,pos"] * 2
    (tmp_path / "t.csv").write_text("text,label\n" + "\n".join(more) + "\n", encoding="utf-8")
    prepared = prepare_data(config)
    assert split_overlap(prepared.train.texts, prepared.dev.texts)["case_space"] == 0
    assert len(prepared.dev) >= 1
    (tmp_path / "t.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    for level in ("exact", "none"):  # exact: "Good  film" is a text of its own
        table = {"data": {"path": "t.csv", "split_groups": level}}
        assert len(prepare_data(config_from_dict(table, base_dir=str(tmp_path))).dev) >= 1


# -- the real sets and the demo ----------------------------------------------------------


def prepared_overlap(path: str, level: str) -> dict[str, int]:
    prepared = prepare_data(config_from_dict({"data": {"path": path, "split_groups": level}}))
    return split_overlap(prepared.train.texts, prepared.dev.texts)


@pytest.mark.parametrize("name", ["sms_spam", "trec"])
@requires_real_data
def test_real_sets_have_no_dev_row_with_a_copy_in_train(name: str) -> None:
    path = str(REAL_DATA / name / f"{name}.csv")
    assert prepared_overlap(path, "case_space") == {"exact": 0, "case_space": 0}
    assert prepared_overlap(path, "none")["exact"] > 0  # they do have copies to keep apart


def test_the_demo_has_no_dev_row_with_a_copy_in_train() -> None:
    assert prepared_overlap("demo", "case_space") == {"exact": 0, "case_space": 0}
    assert prepared_overlap("demo", "none")["exact"] > 0


@requires_real_data
def test_sms_spam_folds_keep_every_group_in_one_fold() -> None:
    frame = pd.read_csv(REAL_DATA / "sms_spam" / "sms_spam.csv", keep_default_na=False)
    y, texts = frame["label"].to_numpy(), frame["text"]
    groups = split_group_codes(texts, "case_space")
    folds = fold_of(len(frame), stratified_kfold(y, 5, 0, groups=groups))
    assert straddling(groups, folds) == 0
    assert straddling(groups, fold_of(len(frame), stratified_kfold(y, 5, 0))) > 100
    # a dev split then folds of its training part, as cross-validation does
    train, dev = stratified_split(y, 0.1, 0, "classification", groups=groups)
    assert split_overlap(texts.iloc[train], texts.iloc[dev]) == {"exact": 0, "case_space": 0}


@pytest.mark.parametrize("grouped", [False, True])
def test_a_long_tail_of_two_row_classes_keeps_every_class_in_train(grouped: bool) -> None:
    """150 classes of 2 rows: dev (30 rows) cannot be stratified; the fallback shuffle put
    both rows of some classes in dev, and training refused 'labels the training data does
    not' have, blaming the label column."""
    labels = np.repeat([f"c{i}" for i in range(150)], 2)
    texts = [f"text {i}" for i in range(300)]
    groups = split_group_codes(texts, "case_space") if grouped else None
    for seed in range(5):
        train, dev = stratified_split(labels, 0.1, seed, "classification", groups=groups)
        assert len(dev) > 0 and set(labels[dev]) <= set(labels[train])
        assert sorted(np.concatenate([train, dev]).tolist()) == list(range(300))
