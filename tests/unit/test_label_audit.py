"""The label audit's core: a seeded sample of non-blank rows, agreement with the given
labels with a Wilson interval, the implied noise rate, the disagreeing rows named by their
source row, and the audits file appended atomically."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tuirecipe.data.label_audit import (
    audit_sample,
    audit_summary,
    save_audit,
    score_audit,
)


def _frame() -> pd.DataFrame:
    texts = [f"text {i}" if i % 10 else "   " for i in range(60)]
    labels = ["pos" if i % 2 else "neg" for i in range(60)]
    return pd.DataFrame({"text": texts, "label": labels, "row": range(2, 62)})


def test_the_sample_is_seeded_and_never_blank() -> None:
    frame = _frame()
    first = audit_sample(frame, 20, seed=3)
    assert first == audit_sample(frame, 20, seed=3)
    assert first != audit_sample(frame, 20, seed=4)
    assert len({p for p, _ in first}) == 20
    assert all(text.strip() for _, text in first)
    assert len(audit_sample(frame, 500, seed=0)) == 54  # every non-blank row, no more


def test_agreeing_everywhere_estimates_no_noise() -> None:
    frame = _frame()
    sample = audit_sample(frame, 30, seed=0)
    answers = {p: str(frame["label"].iat[p]) for p, _ in sample}
    result = score_audit(answers, frame, scope="whole file")
    assert result["agreement"] == 1.0 and result["disagreements"] == []
    assert result["noise_rate"] == 0.0
    lo, hi = result["noise_interval"]
    assert lo == pytest.approx(0.0, abs=1e-12) and 0 < hi < 0.2  # Wilson: not a bare zero


def test_disagreements_are_counted_and_named_by_row() -> None:
    frame = _frame()
    sample = audit_sample(frame, 30, seed=0)
    answers: dict[int, str | None] = {}
    for n, (p, _) in enumerate(sample):
        given = str(frame["label"].iat[p])
        other = "pos" if given == "neg" else "neg"
        answers[p] = None if n < 5 else (other if n < 11 else given)  # 5 skips, 6 wrong
    result = score_audit(answers, frame)
    assert (result["answered"], result["skipped"], result["agreed"]) == (25, 5, 19)
    assert result["noise_rate"] == pytest.approx(6 / 25)
    lo, hi = result["noise_interval"]
    assert lo < 6 / 25 < hi
    wrong_positions = [p for p, _ in sample[5:11]]
    assert sorted(d["row"] for d in result["disagreements"]) == sorted(
        int(frame["row"].iat[p]) for p in wrong_positions
    )
    assert "19 of 25" in audit_summary(result) and "24%" in audit_summary(result)


def test_audits_are_appended_per_file(tmp_path) -> None:
    frame = _frame()
    answers = {p: str(frame["label"].iat[p]) for p, _ in audit_sample(frame, 5, 0)}
    result = score_audit(answers, frame)
    save_audit(tmp_path, "abc", "data.csv", result)
    path = save_audit(tmp_path, "abc", "data.csv", result)
    document = json.loads(path.read_text())
    assert len(document["files"]["abc"]["audits"]) == 2
    path.write_text("{damaged")
    save_audit(tmp_path, "abc", "data.csv", result)  # a damaged file is started afresh
    assert len(json.loads(path.read_text())["files"]["abc"]["audits"]) == 1
