"""Runs as a tree: children under their parent with the key they changed."""

from __future__ import annotations

from tuirecipe.runs.listing import RunSummary, changed_text, run_tree


def summary(run_id: str, parent: str | None = None, **changed) -> RunSummary:
    return RunSummary(
        id=run_id,
        path=run_id,
        name="demo",
        job="sweep" if run_id.startswith("sweep") else "train",
        state="finished",
        started=None,
        duration=None,
        last_step=0,
        parent=parent,
        changed={k: list(v) for k, v in changed.items()},
    )


def test_children_come_right_under_their_parent_and_orphans_stand_alone() -> None:
    runs = [
        summary("late"),
        summary("sweep", None),
        summary("c1", "sweep", lr=(0.003, 0.001)),
        summary("orphan", "gone"),
        summary("c2", "sweep", lr=(0.003, 0.01)),
        summary("grandchild", "c1", dropout=(0.1, 0.2)),
    ]
    tree = [(depth, r.id) for depth, r in run_tree(runs)]
    assert tree == [
        (0, "late"),
        (0, "sweep"),
        (1, "c1"),
        (2, "grandchild"),
        (1, "c2"),
        (0, "orphan"),
    ]


def test_a_cycle_of_parents_lists_each_run_once() -> None:
    runs = [summary("a", "b"), summary("b", "a"), summary("self", "self")]
    assert sorted(r.id for _, r in run_tree(runs)) == ["a", "b", "self"]


def test_changed_text() -> None:
    assert changed_text({"train.lr": [0.003, 0.001]}) == "train.lr 0.003→0.001"
    assert changed_text({}) == ""
