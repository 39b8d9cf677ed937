"""Reading other tools' logs as they grow (``tuirecipe follow``): Lightning's sparse
metrics CSV (rewritten with a wider header), JSONL, TensorBoard when installed; a line
being written is waited for; a bad line is one error naming the file and row."""

from __future__ import annotations

import pytest

from tuirecipe.errors import DataError
from tuirecipe.events import EvalMetrics, StepMetrics
from tuirecipe.runs.logfollow import default_name, follow_log
from tuirecipe.runs.logsources import CsvSource, JsonlSource, open_source


def _append(path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def test_a_sparse_csv_is_read_as_it_grows(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train_loss,val_loss\n0,0,1.5,\n", encoding="utf-8")
    source = open_source(path)
    assert isinstance(source, CsvSource)
    assert source.read_new() == [(0, {"epoch": 0.0, "train_loss": 1.5})]
    assert source.read_new() == []
    _append(path, "0,1,1.25,\n0,1,,0.9\n0,2,1.0")  # the last row is still being written
    assert source.read_new() == [
        (1, {"epoch": 0.0, "train_loss": 1.25}),
        (1, {"epoch": 0.0, "val_loss": 0.9}),
    ]
    _append(path, ",\n")
    assert source.read_new() == [(2, {"epoch": 0.0, "train_loss": 1.0})]


def test_a_csv_rewritten_with_a_wider_header_gives_only_the_new_rows(tmp_path):
    """Lightning's CSVLogger rewrites metrics.csv whole when a new metric appears."""
    path = tmp_path / "metrics.csv"
    path.write_text("step,train_loss\n0,1.5\n1,1.2\n", encoding="utf-8")
    source = open_source(path)
    assert len(source.read_new()) == 2
    path.write_text("step,train_loss,val_acc\n0,1.5,\n1,1.2,\n1,,0.7\n2,1.1,\n", encoding="utf-8")
    assert source.read_new() == [(1, {"val_acc": 0.7}), (2, {"train_loss": 1.1})]
    _append(path, "3,1.0,\n")
    assert source.read_new() == [(3, {"train_loss": 1.0})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("step,loss\n1,0.5\n2,abc\n", "bad.csv: row 3: column 'loss': 'abc' is not a number"),
        ("step,loss\n1.5,0.5\n", "bad.csv: row 2: column 'step': '1.5' is not a whole number"),
        ("step,loss\n1,0.5,7\n", "bad.csv: row 2: 3 cells for 2 columns"),
        ("epoch,loss\n1,0.5\n", "bad.csv: row 1: the header names no step column"),
    ],
)
def test_a_bad_csv_row_is_named(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as error:
        open_source(path).read_new()
    assert str(error.value).startswith(str(tmp_path / message.split(":")[0]))
    assert message.split(": ", 1)[1] in str(error.value)


def test_a_jsonl_log_is_read_as_it_grows(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 1, "loss": 0.5, "phase": "train", "ok": true}\n{"step": 2', "utf-8")
    source = open_source(path)
    assert isinstance(source, JsonlSource)
    assert source.read_new() == [(1, {"loss": 0.5})]
    _append(path, ', "eval_loss": 0.7}\n\n{"global_step": 3, "loss": 0.25}\n')
    assert source.read_new() == [(2, {"eval_loss": 0.7}), (3, {"loss": 0.25})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"step": 1}\n{oops\n', "row 2: not a JSON line"),
        ("[1, 2]\n", "row 1: a line must be a JSON object"),
        ('{"loss": 1}\n', "row 1: no step key"),
        ('{"step": "one"}\n', "row 1: 'step': 'one' is not a whole number"),
    ],
)
def test_a_bad_jsonl_line_is_named(tmp_path, text, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as error:
        open_source(path).read_new()
    assert str(path) in str(error.value)


def test_paths_that_cannot_be_followed_are_refused(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        open_source(tmp_path / "missing.csv")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(DataError, match="not a log tuirecipe can follow"):
        open_source(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="neither metrics.csv nor TensorBoard"):
        open_source(tmp_path)
    (tmp_path / "exp1").mkdir()
    (tmp_path / "exp1" / "events.out.tfevents.1.host").write_bytes(b"")
    with pytest.raises(DataError, match=r"in sub-folders \(exp1\): follow one of them"):
        open_source(tmp_path)


def test_a_lightning_version_folder_is_followed_through_its_metrics_csv(tmp_path):
    folder = tmp_path / "lightning_logs" / "version_3"
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text("step,train_loss\n0,1.0\n", encoding="utf-8")
    source = open_source(folder)
    assert isinstance(source, CsvSource) and source.path == folder / "metrics.csv"
    assert default_name(source.path) == "follow-version_3"


def test_tensorboard_logs_are_read_with_tensorboards_reader(tmp_path):
    pytest.importorskip("tensorboard")
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tb.SummaryWriter(str(tmp_path / "tb"))
    for step in range(1, 4):
        writer.add_scalar("train/loss", 1.0 / step, step)
    writer.add_scalar("val/accuracy", 0.75, 3)
    writer.flush()
    source = open_source(tmp_path / "tb")
    assert source.kind == "tensorboard"
    rows = source.read_new()
    assert rows == [
        (1, {"train/loss": 1.0}),
        (2, {"train/loss": 0.5}),
        (3, {"train/loss": pytest.approx(1 / 3), "val/accuracy": 0.75}),
    ]
    writer.add_scalar("train/loss", 0.2, 4)
    writer.flush()
    assert source.read_new() == [(4, {"train/loss": pytest.approx(0.2)})]
    writer.close()


def test_without_tensorboard_a_tensorboard_folder_is_one_clear_error(tmp_path, monkeypatch):
    import sys

    for name in ("tensorboard", "tensorboard.backend", "tensorboard.backend.event_processing"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    folder = tmp_path / "tb"
    folder.mkdir()
    (folder / "events.out.tfevents.1.host").write_bytes(b"")
    with pytest.raises(DataError, match="needs the tensorboard package"):
        open_source(folder)


def test_following_a_finished_log_once_makes_a_finished_run(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(
        "epoch,step,train_loss,val_loss,val_acc\n0,1,1.0,,\n0,2,0.8,,\n0,2,,0.9,0.6\n", "utf-8"
    )
    run, state = follow_log(path, runs_dir=tmp_path / "runs", once=True)
    assert state == "finished" and run.dir.read_status()["state"] == "finished"
    meta = run.dir.read_meta()
    assert meta["job"] == "follow" and meta["source"] == str(path.resolve())
    events = run.dir.events()
    assert [e.loss for e in events if isinstance(e, StepMetrics)] == [1.0, 0.8]
    assert [e.metrics for e in events if isinstance(e, EvalMetrics)] == [{"loss": 0.9, "acc": 0.6}]


def test_a_log_that_cannot_be_followed_makes_no_run(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n1,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2"):
        follow_log(path, runs_dir=tmp_path / "runs", once=True)
    assert not (tmp_path / "runs").exists()


def test_a_bad_row_met_while_following_fails_the_run(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n1,0.5\n", encoding="utf-8")
    polls = []

    def grow() -> bool:  # the follower's stop question, asked once per poll
        polls.append(1)
        if len(polls) == 1:
            _append(path, "2,oops\n")
        return len(polls) > 10

    with pytest.raises(DataError, match="row 3"):
        follow_log(path, runs_dir=tmp_path / "runs", poll=0.01, should_stop=grow)
    [run_dir] = (tmp_path / "runs").iterdir()
    status = (run_dir / "status.json").read_text(encoding="utf-8")
    assert '"failed"' in status and "row 3" in status
