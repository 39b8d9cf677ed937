"""Label encoding gives the same codes for a pandas string column (factorized by arrow)
as for the same labels as Python objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tuirecipe.data.profile.labels import encode_labels

CASES = [
    ("classification", ["b", None, " a", "", "b", "c ", "NaN", "a"], None),
    ("classification", ["b", None, " a", "", "b", "c ", "z"], ["a", "b"]),
    ("regression", ["1.5", None, "x", "2", " 2.0 ", "", "inf"], None),
]


@pytest.mark.parametrize(("task", "labels", "label_set"), CASES)
def test_string_column_encodes_like_objects(task, labels, label_set) -> None:
    fast = encode_labels(pd.Series(labels, dtype="str"), len(labels), task, label_set)
    slow = encode_labels(pd.Series(labels, dtype=object), len(labels), task, label_set)
    assert fast.codes.tolist() == slow.codes.tolist()
    assert fast.names == slow.names
    assert fast.missing.tolist() == slow.missing.tolist()
    assert fast.unknown.tolist() == slow.unknown.tolist()
    if task == "regression":
        assert fast.values is not None and slow.values is not None
        assert np.array_equal(fast.values, slow.values, equal_nan=True)
    else:
        assert fast.missing.any() and (fast.codes >= 0).any()
