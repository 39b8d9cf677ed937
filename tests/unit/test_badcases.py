"""Bad cases against a hand example: confusion matrix, most-confused pairs, marks, export;
and the config comparison of runs."""

from __future__ import annotations

import csv
import json

import pytest

from tuirecipe.runs.badcases import (
    CLEANING_COLUMNS,
    BadCaseMarks,
    confusion_matrix,
    dumps_predictions,
    load_predictions,
    mispredictions,
    most_confused,
    read_cleaning_list,
)

# gold → pred, worked out by hand:
#          pred: cat dog bird
#   gold cat  [  2   1   0 ]
#        dog  [  2   1   0 ]
#        bird [  0   1   1 ]
ROWS = [
    {"row": 1, "text": "a", "gold": "cat", "pred": "cat", "prob": 0.9, "loss": 0.1},
    {"row": 2, "text": "b", "gold": "cat", "pred": "cat", "prob": 0.8, "loss": 0.2},
    {"row": 3, "text": "c", "gold": "cat", "pred": "dog", "prob": 0.7, "loss": 1.5},
    {"row": 4, "text": "d", "gold": "dog", "pred": "cat", "prob": 0.6, "loss": 0.9},
    {"row": 5, "text": "e", "gold": "dog", "pred": "cat", "prob": 0.9, "loss": 2.3},
    {"row": 6, "text": "f", "gold": "dog", "pred": "dog", "prob": 0.6, "loss": 0.5},
    {
        "row": 7,
        "text": 'g, "quoted"\nline',
        "gold": "bird",
        "pred": "dog",
        "prob": 0.5,
        "loss": 0.9,
    },
    {"row": 8, "text": "h", "gold": "bird", "pred": "bird", "prob": 0.9, "loss": 0.1},
]


def test_confusion_matrix_by_hand():
    labels, matrix = confusion_matrix(ROWS, ["cat", "dog", "bird"])
    assert labels == ["cat", "dog", "bird"]
    assert matrix == [[2, 1, 0], [2, 1, 0], [0, 1, 1]]


def test_confusion_matrix_adds_labels_only_seen_in_rows():
    labels, matrix = confusion_matrix(ROWS, ["dog"])
    assert labels == ["dog", "bird", "cat"]
    assert sum(map(sum, matrix)) == len(ROWS)


def test_most_confused_pairs_by_hand():
    assert most_confused(ROWS) == [("dog", "cat", 2), ("bird", "dog", 1), ("cat", "dog", 1)]
    assert most_confused(ROWS, top=1) == [("dog", "cat", 2)]


def test_mispredictions_sorted_by_loss_then_row():
    assert [r["row"] for r in mispredictions(ROWS)] == [5, 3, 4, 7]


def test_marks_round_trip_and_export(tmp_path):
    (tmp_path / "dev_predictions.json").write_text(
        dumps_predictions(40, "classification", ["cat", "dog", "bird"], ROWS)
    )
    predictions = load_predictions(tmp_path)
    assert predictions.step == 40 and predictions.rows == ROWS
    cases = mispredictions(predictions.rows)
    marks = BadCaseMarks(tmp_path)
    marks.mark(cases[0], "label_wrong", step=40)
    marks.mark(cases[1], "model_weak", step=40)
    marks.mark(cases[3], "label_wrong", step=40)
    marks.mark(cases[2], "skipped", step=40)
    again = BadCaseMarks(tmp_path)  # read back from disk
    assert again.get(5) == "label_wrong" and again.get(3) == "model_weak"
    assert again.get(4) == "skipped" and again.get(7) == "label_wrong"
    assert again.get(1) is None
    on_disk = json.loads((tmp_path / "badcase_marks.json").read_text())
    assert on_disk["5"]["gold"] == "dog" and on_disk["5"]["pred"] == "cat"
    # The cleaning list: header, one line per label-wrong case, by row, CSV quoting.
    with open(tmp_path / "label_wrong.csv", newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert tuple(lines[0]) == CLEANING_COLUMNS == ("row", "text", "gold", "pred")
    assert lines[1:] == [["5", "e", "dog", "cat"], ["7", 'g, "quoted"\nline', "bird", "dog"]]
    assert [r["row"] for r in read_cleaning_list(tmp_path / "label_wrong.csv")] == [5, 7]
    # Re-marking replaces: row 5 is no longer in the cleaning list.
    again.mark(cases[0], "model_weak")
    assert [r["row"] for r in read_cleaning_list(tmp_path / "label_wrong.csv")] == [7]


def test_unknown_mark_is_refused(tmp_path):
    with pytest.raises(ValueError):
        BadCaseMarks(tmp_path).mark(ROWS[2], "maybe")


def test_no_predictions_yet(tmp_path):
    assert load_predictions(tmp_path) is None
    (tmp_path / "dev_predictions.json").write_text("{half")
    assert load_predictions(tmp_path) is None


def test_compare_configs_and_the_one_change_warning(tmp_path):
    from support.recorded_run import write_recorded_run

    from tuirecipe.runs.compare import compare_configs, parent_warning

    a = write_recorded_run(tmp_path, "run-a", lr=0.001)
    b = write_recorded_run(
        tmp_path, "run-b", lr=0.003, parent="run-a", changed={"train.lr": [0.001, 0.003]}
    )
    c = write_recorded_run(tmp_path, "run-c", lr=0.003, steps=100, parent="run-a")
    rows = {r.key: r for r in compare_configs([a, b, c])}
    assert rows["train.lr"].changed and rows["train.lr"].values == [0.001, 0.003, 0.003]
    assert rows["train.max_steps"].changed
    assert not rows["model.name"].changed
    assert [r.key for r in compare_configs([a, b], only_changed=True)] == ["train.lr"]
    assert parent_warning(a) is None  # no parent
    assert parent_warning(b) is None  # one change
    warning = parent_warning(c)  # two changes, computed from the configs (meta has none)
    assert "2 keys" in warning and "train.lr" in warning and "train.max_steps" in warning
    assert "one variable at a time" in warning
