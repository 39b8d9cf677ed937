"""Per-row flags laid onto the whole file's rows (core, plain pytest)."""

from __future__ import annotations

import pandas as pd

from tuirecipe.data.row_flags import merge_flags


def test_merge_flags_keeps_whole_file_duplicates() -> None:
    frame = pd.DataFrame(
        {"text": ["a", "b", "a", "c"], "label": ["x", "y", "z", "x"], "row": [2, 3, 4, 5]}
    )
    train = frame.iloc[[0, 1, 3]].reset_index(drop=True)  # row 4 went to dev
    base = pd.DataFrame(
        {
            "duplicate": [False] * 4,
            "conflict": [True, False, True, False],
            "long": [True, True, True, True],
        }
    )
    profile_flags = {
        "conflict": [False, False, False],
        "long": [False, True, False],
        "corrupted": [False, False, True],
        "near_duplicate": [1, 0],
    }
    merged = merge_flags(frame, train, profile_flags, base)
    assert merged["conflict"].tolist() == [True, False, True, False]  # across train/dev
    assert merged["long"].tolist() == [False, True, True, False]  # profile wins on train
    assert merged["corrupted"].tolist() == [False, False, False, True]
    assert "near_duplicate" not in merged  # wrong length: ignored


def test_merge_flags_sets_a_whole_file_flag_the_profile_found_in_train() -> None:
    frame = pd.DataFrame({"text": ["a", "a", "b"], "label": ["x", "x", "y"], "row": [2, 3, 4]})
    base = pd.DataFrame({"duplicate": [False, False, False]})
    merged = merge_flags(frame, frame, {"duplicate": [True, True, False]}, base)
    assert merged["duplicate"].tolist() == [True, True, False]
    assert base["duplicate"].tolist() == [False, False, False]  # the base is not changed
