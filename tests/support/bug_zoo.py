"""The bug zoo: broken models and data setups, each with the check(s) that must catch it.

Every entry is one bug a person really writes, described in plain words, built from a
sound setup by changing one thing: the model (a user model from failing_models.py,
zoo_newchecks.py or zoo_common.py), the data (a change to the CSV's rows), or a config
key. ``expect`` names the checks that must give a verdict (``fail``, or ``warn`` where the
issue asks for a warning, or ``error`` for the one shape message) and a phrase their
summary must contain.

The data bugs are made in the CSV a person would have (zoo_verdicts.py makes the same ones
in prepared synthetic data for the verdicts' unit tests): so the loader, the profile's
dev/train overlap and every check see them as they would in use.

The sound setup is ``fasttext`` at the project's defaults on a stratified slice of the
built-in demo (``zoo_frame``), written to a CSV: small enough that the whole checklist on
every entry fits in CI. ``run_entry`` runs the whole automatic checklist in this process
(``tuirecipe.checks.runner.run_checks``) and returns every check's result, so the test and
benchmarks/checks_matrix.py (which prints the README's matrix) share one definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUPPORT = Path(__file__).resolve().parent  # the broken models load from here
ZOO_ROWS = 1500  # rows of the demo slice; the dev split is data.dev_fraction of it


@dataclass(frozen=True)
class Expect:
    check: str
    status: str  # fail | warn | error
    phrase: str  # must appear in the result's summary


@dataclass(frozen=True)
class Bug:
    name: str  # the matrix's row label
    what: str  # the bug in plain words
    expect: tuple[Expect, ...]
    model: str = ""  # "module:function" of a model in tests/support/, or "" for fasttext
    frame: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # changes the CSV rows
    dev_is_train: bool = False  # data.dev_path = data.path
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # config sections


def _shuffled(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["label"] = out["label"].sample(frac=1.0, random_state=1).to_numpy()
    return out


def _shifted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["label"] = np.roll(out["label"].to_numpy(), 1)
    return out


def _leaked(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["text"] = "category " + out["label"] + " " + out["text"]
    return out


def _one_word_texts(frame: pd.DataFrame) -> pd.DataFrame:
    """The demo has no one-word texts; real data does ("Ok...", "thanks")."""
    words = ["thanks", "refund", "hello", "invoice", "password", "broken"]
    labels = frame["label"].iloc[: len(words)].to_list()
    extra = pd.DataFrame({"text": words, "label": labels})
    return pd.concat([frame, extra]).sample(frac=1.0, random_state=2).reset_index(drop=True)


def _one_class(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["label"] = out["label"].iloc[0]
    return out


def _fail(check: str, phrase: str) -> Expect:
    return Expect(check, "fail", phrase)


def _warn(check: str, phrase: str) -> Expect:
    return Expect(check, "warn", phrase)


NAN_ROWS = "model outputs NaN on rows"
SHAPE = "the model's output has shape"

ZOO: tuple[Bug, ...] = (
    # -- models -------------------------------------------------------------------------
    Bug(
        "pad-length mean",
        "mean pooling divides by the padded length, not the text's length",
        (_fail("padding_invariance", "padding changes the output"),),
        model="zoo_newchecks:build_padded_length_mean",
    ),
    Bug(
        "mask ignored",
        "the model averages every position, padding included: the attention mask is unused",
        (_fail("padding_invariance", "padding changes the output"),),
        model="zoo_newchecks:build_mask_ignoring",
    ),
    Bug(
        "no_grad batch centring",
        "features centred on the batch mean computed under no_grad (rows mix in forward only)",
        (_fail("forward_independence", "rows change when other rows of the batch change"),),
        model="zoo_newchecks:build_batch_centred",
    ),
    Bug(
        "rows mixed in forward",
        "each row's features get half of the next row's added",
        (
            _fail("forward_independence", "rows change when other rows of the batch change"),
            _fail("batch_independence", "leak gradient"),
        ),
        model="zoo_newchecks:build_row_mixing",
    ),
    Bug(
        "rows mixed in backprop",
        "a term that is zero in forward (x - x.detach() of another row) sends gradients "
        "across rows",
        (_fail("batch_independence", "leak gradient"),),
        model="zoo_common:build_backprop_mixing",
    ),
    Bug(
        "dropout on at eval",
        "F.dropout(training=True): dropout stays on when evaluating",
        (_fail("eval_determinism", "two evaluations of the same batch differ"),),
        model="zoo_newchecks:build_eval_dropout",
    ),
    Bug(
        "BatchNorm kept training",
        "an overridden train() keeps BatchNorm in training mode after model.eval()",
        (
            _fail("eval_determinism", "evaluating changed the model's state"),
            _fail("batch_independence", "leak gradient"),
        ),
        model="zoo_newchecks:build_sticky_batchnorm",
    ),
    Bug(
        "NaN on one-token texts",
        "averaging by length - 1 gives NaN exactly on one-token texts (six added)",
        (
            _fail("init_loss", NAN_ROWS),
            _fail("padding_invariance", NAN_ROWS),
            # its sweep is the one overfit_batch measured first: the rows are still named
            _fail("lr_range", NAN_ROWS),
        ),
        model="zoo_newchecks:build_nan_on_one_token",
        frame=_one_word_texts,
    ),
    Bug(
        "wrong output shape",
        "the logits come out as [batch, classes, 1]",
        (Expect("init_loss", "error", SHAPE), Expect("batch_independence", "error", SHAPE)),
        model="zoo_newchecks:build_extra_dim",
    ),
    Bug(
        "unseeded randomness",
        "dropout-like noise from numpy's unseeded default_rng(): runs are not repeatable",
        (_fail("fixed_seed", "different losses"),),
        model="failing_models:build_unseeded_noise",
    ),
    Bug(
        "huge initial logits",
        "the output layer's weights start 300x too large: confident, wrong first outputs",
        (_fail("init_loss", "too high"), _fail("initialisation", "huge initial logits")),
        model="failing_models:build_huge_logits",
    ),
    Bug(
        "output bias far off",
        "the output bias starts at +8 for one class",
        (_fail("init_loss", "too high"),),
        model="zoo_common:build_bias_far_off",
    ),
    Bug(
        "input ignored",
        "the model outputs a learned bias only: the text never reaches the output",
        (_fail("input_independent", "constant input"), _fail("overfit_batch", "loss still")),
        model="failing_models:build_input_ignoring",
    ),
    Bug(
        "probabilities, not logits",
        "the model returns softmax(logits): the loss applies softmax a second time",
        (_fail("overfit_batch", "loss still"),),
        model="zoo_common:build_probabilities_out",
    ),
    Bug(
        "embedding detached",
        "the pooled embedding is .detach()ed before the head: the embedding never trains",
        (_fail("gradient_flow", "without a gradient"),),
        model="zoo_common:build_detached_embedding",
    ),
    Bug(
        "embedding frozen",
        "requires_grad=False left on a randomly initialised embedding: it never trains",
        (_warn("gradient_flow", "1 frozen: embedding.weight"),),
        model="zoo_common:build_frozen_embedding",
    ),
    # -- data ---------------------------------------------------------------------------
    Bug(
        "labels shuffled",
        "the label column is shuffled against the texts",
        (_fail("label_signal", "labels look unrelated to the text"),),
        frame=_shuffled,
    ),
    Bug(
        "labels shifted one row",
        "every label moved down one row (an off-by-one when the columns were joined)",
        (_fail("label_signal", "labels look unrelated to the text"),),
        frame=_shifted,
    ),
    Bug(
        "label leaked into text",
        "each text starts with its own label",
        (_warn("label_signal", "suspiciously easy"),),
        frame=_leaked,
    ),
    Bug(
        "dev file = train file",
        "data.dev_path names the training file",
        (_warn("label_signal", "also appear in the training split"),),
        dev_is_train=True,
    ),
    Bug(
        "one class only",
        "every row carries the same label",
        (Expect("label_signal", "error", "has only one class"),),
        frame=_one_class,
    ),
    Bug(
        "texts cut to 2 tokens",
        "data.max_len = 2: the model sees two tokens of each text",
        (_warn("input_view", "truncated at max_len 2"),),
        settings={"data": {"max_len": 2}},
    ),
    Bug(
        "vocabulary all <unk>",
        "data.min_freq = 100000: every word becomes `<unk>`",
        (_warn("input_view", "<unk> rate"),),
        settings={"data": {"min_freq": 100000}},
    ),
    # -- training settings ----------------------------------------------------------------
    Bug(
        "lr = 0.5",
        "train.lr = 0.5 for the default TextCNN, far above what the LR range test suggests",
        # at or past the sweep's minimum, or past where it exploded: either says lr too high
        (_warn("lr_range", "train.lr is 0.5, "), _fail("loss_decreases", "prior-entropy floor")),
        settings={"model": {"name": "textcnn"}, "train": {"lr": 0.5}},
    ),
    Bug(
        "lr = 1e-7",
        "train.lr = 1e-7: training barely moves",
        (_fail("lr_range", "below the band"), _fail("loss_decreases", "prior-entropy floor")),
        settings={"train": {"lr": 1e-7}},
    ),
)


def zoo_frame(rows: int = ZOO_ROWS, seed: int = 0) -> pd.DataFrame:
    """A stratified slice of the built-in demo: every class keeps its share (at least 10
    rows), texts present; the rows keep the demo's order of classes mixed by a shuffle."""
    from tuirecipe.data.demo import demo_frame

    frame = demo_frame().dropna()
    frame = frame[frame["text"].str.strip() != ""]
    share = rows / len(frame)
    parts = [
        group.sample(n=min(len(group), max(10, round(len(group) * share))), random_state=seed)
        for _, group in frame.groupby("label", sort=True)
    ]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def zoo_config(bug: Bug | None, folder: Path, frame: pd.DataFrame):
    """The config of ``bug`` (None: the sound setup) with its CSV written to ``folder``."""
    from tuirecipe.config import config_from_dict

    data = bug.frame(frame) if bug is not None and bug.frame is not None else frame
    path = folder / "train.csv"
    data.to_csv(path, index=False)
    table: dict[str, Any] = {
        "name": "zoo",
        "runs_dir": str(folder / "runs"),
        "data": {"path": str(path)},
        "model": {"name": "fasttext"},
        "train": {"device": "cpu"},
    }
    if bug is not None:
        if bug.model:
            table["model"] = {"name": bug.model, "python_path": [str(SUPPORT)]}
        if bug.dev_is_train:
            table["data"]["dev_path"] = str(path)
        for section, keys in bug.settings.items():
            table[section] = {**table.get(section, {}), **keys}
    return config_from_dict(table, source=str(folder / "zoo.toml"), base_dir=str(folder))


def run_entry(bug: Bug | None, folder: Path, frame: pd.DataFrame) -> dict[str, Any]:
    """Every automatic check on ``bug``'s setup, in this process: name -> CheckResult."""
    from tuirecipe.checks.runner import run_checks

    folder.mkdir(parents=True, exist_ok=True)
    config = zoo_config(bug, folder, frame)
    return {r.name: r for r in run_checks(config)}


def missed(bug: Bug, results: dict[str, Any]) -> list[str]:
    """What the checklist got wrong about ``bug``: one line per unmet expectation."""
    problems = []
    for want in bug.expect:
        got = results.get(want.check)
        if got is None:
            problems.append(f"{want.check}: did not run")
        elif got.status != want.status or want.phrase not in got.summary:
            problems.append(
                f"{want.check}: expected {want.status} saying {want.phrase!r}, "
                f"got {got.status}: {got.summary}"
            )
    return problems


GLYPHS = {"fail": "✗", "warn": "!", "pass": "✓", "error": "E", "skip": "·", "stopped": "·"}


def glyph(result: Any) -> str:
    return "·" if result is None else GLYPHS.get(result.status, "?")
