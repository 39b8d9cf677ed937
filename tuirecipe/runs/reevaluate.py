"""Re-evaluating a saved checkpoint of a run (``tuirecipe eval RUN``).

:func:`reevaluate` loads the run's resolved config, its vocabulary (``vocab.json``) and
a checkpoint (the kept ``model.pt`` by default, or ``best.pt`` / ``last.pt``), rebuilds
the split the run evaluated on — its dev split, or a fold run's validation fold — or reads
another file with the run's column settings, and evaluates with the training code path
(:func:`tuirecipe.train.batches.evaluate`, the run's batch size, device and threads).
On the run's own dev split the figures equal the recorded evaluation at the checkpoint's
step, bit for bit; :attr:`Reevaluation.recorded` carries that evaluation to compare.

Everything a person can get wrong (unknown run, missing checkpoint or vocabulary, a file
whose labels the run never saw) is a one-line :class:`~tuirecipe.errors.UserError`.
torch is imported only when a checkpoint is evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tuirecipe.errors import RunError, UserError
from tuirecipe.events import EvalMetrics
from tuirecipe.monitor import CHECKPOINT_FILES
from tuirecipe.runs.rundir import RunDir

CHECKPOINT_CHOICES = ("kept", "best", "last")


@dataclass
class Reevaluation:
    run: str
    checkpoint: str  # the file evaluated: "model.pt", "best.pt" or "last.pt"
    kept_as: str  # which checkpoint that file is ("best"/"last"; "" when unknown)
    step: int | None  # the training step the weights are from (None when unknown)
    split: str  # "dev", "validation fold 2 of 5", or the file's path
    n: int
    metrics: dict[str, float]
    ci: dict[str, list[float]]
    recorded: dict[str, Any] = field(default_factory=dict)  # the eval event at ``step``
    notes: list[str] = field(default_factory=list)  # e.g. the data file changed
    per_class: dict[str, Any] = field(default_factory=dict)  # classification: by class id

    def matches_recorded(self) -> bool | None:
        """Equal to the recorded evaluation (metrics and intervals, exactly)? ``None``
        when there is nothing recorded to compare with (another file, unknown step)."""
        if not self.recorded:
            return None
        return (
            self.recorded.get("metrics") == self.metrics
            and self.recorded.get("ci") == self.ci
            and self.recorded.get("n") == self.n
            and self.recorded.get("per_class", {}) == self.per_class
        )

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["matches_recorded"] = self.matches_recorded()
        return out


def checkpoint_file(run: RunDir, which: str) -> tuple[Path, str, int | None]:
    """``(path, kind, step)`` of checkpoint ``which`` ("kept", "best" or "last")."""
    if which not in CHECKPOINT_CHOICES:
        raise UserError(f"--checkpoint must be one of {', '.join(CHECKPOINT_CHOICES)}")
    info = run.read_meta().get("checkpoint")
    info = info if isinstance(info, dict) else {}
    if which == "kept":
        path = run.path / "model.pt"
        kind = next((k for k, f in CHECKPOINT_FILES.items() if f == info.get("file")), "")
        step = info.get("step")
    else:
        path = run.path / CHECKPOINT_FILES[which]
        part = info.get(which)
        kind, step = which, part.get("step") if isinstance(part, dict) else None
    if not path.is_file():
        state = run.read_status().get("state", "unknown")
        why = (
            "it is still training"
            if state in ("running", "paused")
            else "no evaluation improved on the monitored metric"
            if which == "best" and path.parent.joinpath("last.pt").is_file()
            else f"the run is {state} and saved no checkpoint"
        )
        raise RunError(f"run {run.id} has no {path.name} ({why})", source=str(run.path))
    return path, kind, step if isinstance(step, int) else None


def _load_run_config(run: RunDir) -> Any:
    from tuirecipe.config import load_config

    if not run.config_path.is_file():
        raise RunError(f"run {run.id} has no config.toml", source=str(run.path))
    config = load_config(run.config_path)
    meta = run.read_meta()  # as the worker does: relative paths from the user's config
    config.source = meta.get("config_source") or config.source
    config.base_dir = meta.get("config_dir") or config.base_dir
    return config


def _run_split(config: Any, run: RunDir, vocab: Any) -> tuple[Any, list[str], str, list[str]]:
    """The split the run evaluated on, encoded with its vocabulary; its label names."""
    from tuirecipe.data.prepare import prepare_data
    from tuirecipe.tune.cv import encode_with, fold_data

    meta = run.read_meta()
    notes = []
    data = prepare_data(config, augment=False)
    recorded: dict[str, Any] = meta.get("data") or {}
    recorded = recorded if isinstance(recorded, dict) else {}
    now = data.fingerprint()
    for key in ("sha256", "dev_sha256"):
        if recorded.get(key) and recorded.get(key) != now.get(key):
            notes.append(
                f"the data file {now.get('path' if key == 'sha256' else 'dev_path')} changed "
                "since the run: its figures need not reproduce"
            )
    job = meta.get("job") or "train"
    if job == "cv_fold" and isinstance(meta.get("fold"), dict):
        fold, k = int(meta["fold"]["index"]), int(meta["fold"]["k"])
        training, _ = fold_data(config, data, fold, k)
        split, name = training.dev, f"validation fold {fold + 1} of {k}"
    else:
        split, name = data.dev, "dev"
    return encode_with(split, vocab, config.data.max_len), list(data.label_names), name, notes


def _file_split(config: Any, path: Path, vocab: Any, labels: list[str]) -> tuple[Any, list[str]]:
    """``path`` read with the run's column settings, labels mapped to the run's ids; and a
    note on the rows it skipped (unusable, as training would have skipped them)."""
    import numpy as np

    from tuirecipe.data.loading import load_table
    from tuirecipe.data.prepare import _split

    loaded = load_table(path, config.data, key="--data", require_classes=False)
    frame = loaded.frame
    if config.data.task == "classification":
        index = {name: i for i, name in enumerate(labels)}
        unseen = sorted({str(v) for v in frame["label"]} - set(index))
        if unseen:
            shown = ", ".join(repr(u) for u in unseen[:5])
            more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
            raise UserError(
                f"has labels the run was not trained on: {shown}{more} "
                f"(the run's labels: {', '.join(labels)})",
                source=str(path),
            )
        targets = frame["label"].astype(str).map(index).to_numpy(dtype=np.int64)
    else:
        targets = frame["label"].to_numpy(dtype=np.float32)
    notes = []
    if loaded.report.skipped:
        first = loaded.report.skipped[0]
        notes.append(
            f"skipped {len(loaded.report.skipped)} unusable rows of {path} "
            f"(first: row {first.row}: {first.reason})"
        )
    return _split(frame, targets, vocab, config.data.max_len), notes


def reevaluate(run: RunDir, *, data_file: Path | None = None, which: str = "kept") -> Reevaluation:
    """Evaluate checkpoint ``which`` of ``run`` on its dev split or on ``data_file``."""
    import torch

    from tuirecipe.data.tokenize import Vocab
    from tuirecipe.models import build_model
    from tuirecipe.models.registry import ModelSpec, spec_for
    from tuirecipe.train.batches import SplitTensors, evaluate
    from tuirecipe.train.device import configure_threads, pick_device

    path, kind, step = checkpoint_file(run, which)
    config = _load_run_config(run)
    vocab_path = run.path / "vocab.json"
    if not vocab_path.is_file():
        raise RunError(f"run {run.id} has no vocab.json", source=str(run.path))
    vocab = Vocab.load(vocab_path)
    meta = run.read_meta()
    notes: list[str] = []
    if data_file is None:
        split, labels, split_name, notes = _run_split(config, run, vocab)
        if "labels" in meta and [str(x) for x in meta["labels"]] != [str(x) for x in labels]:
            raise RunError(
                f"the data's labels are not the run's any more ({', '.join(labels)} now, "
                f"{', '.join(map(str, meta['labels']))} then): give the data with --data",
                source=str(run.path),
            )
    else:
        if not Path(data_file).is_file():
            raise UserError(f"no such file: {data_file}", source="--data")
        labels = [str(x) for x in meta.get("labels", [])]
        if config.data.task == "classification" and not labels:
            labels = [str(x) for x in _run_split(config, run, vocab)[1]]
        split, notes = _file_split(config, Path(data_file), vocab, labels)
        split_name = str(data_file)
    task = config.data.task
    shape = SimpleNamespace(
        task=task, vocab=vocab, label_names=labels, class_counts=[], max_len=config.data.max_len
    )
    spec: ModelSpec = spec_for(config, shape)
    configure_threads(config.train.threads)  # as the worker: same threads, same sums
    device = pick_device(config.train.device)
    model = build_model(config, spec)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file is the user's to see
        first = (str(exc).strip().splitlines() or [""])[0]
        raise RunError(
            f"{path.name} does not load into the run's model: {first}", source=str(run.path)
        ) from None
    model.to(device)
    tensors = SplitTensors.from_split(split, task, device, int(vocab.pad_id))
    result = evaluate(model, tensors, task=task, batch_size=config.train.batch_size)
    metrics = {k: v for k, v in result.items() if k not in ("ci", "n", "per_class")}
    recorded: dict[str, Any] = {}
    if data_file is None and step is not None:
        for event in run.events():
            if isinstance(event, EvalMetrics) and event.split == "dev" and event.step == step:
                recorded = {
                    "metrics": event.metrics,
                    "ci": event.ci,
                    "n": event.n,
                    "per_class": event.per_class,
                }
    return Reevaluation(
        run=run.id,
        checkpoint=path.name,
        kept_as=kind,
        step=step,
        split=split_name,
        n=int(result["n"]),
        metrics=metrics,
        ci={k: list(v) for k, v in result["ci"].items()},
        recorded=recorded,
        notes=notes,
        per_class=result.get("per_class", {}),
    )
