"""``tuirecipe data --audit N``: the label audit in a plain terminal.

Shows ``N`` rows drawn as the console's audit draws them
(:func:`~tuirecipe.data.label_audit.audit_sample`), without their labels, and reads one
answer per row from standard input: a class's number or name, ``s`` to skip, ``q`` (or
the end of the input) to stop. Then prints the agreement and the implied noise rate with
their intervals, appends the result to ``label_audits.json`` and marks the rows answered
differently label-wrong in the data marks (as the console does). Answers may be piped.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from tuirecipe.config import Config
from tuirecipe.errors import UserError
from tuirecipe.printable import printable


def _read_answer(prompt: str, out: TextIO) -> str | None:
    """One stripped line, or None at the end of the input."""
    print(prompt, end="", flush=True, file=out)
    line = sys.stdin.readline()
    if not line:
        print(file=out)
        return None
    return line.strip()


def run_label_audit(config: Config, n: int, *, as_json: bool = False) -> int:
    from tuirecipe.data.cleaning import MARK_LABEL_WRONG, MarkStore
    from tuirecipe.data.label_audit import (
        AUDIT_SOURCE,
        audit_sample,
        audit_summary,
        save_audit,
        score_audit,
    )
    from tuirecipe.data.label_noise_run import noise_scope
    from tuirecipe.data.profiling import load_dataset

    if config.data.task != "classification":
        raise UserError("data --audit: relabelling needs classes; this is a regression task")
    if n < 1:
        raise UserError(f"data --audit: the number of rows must be at least 1, got {n}")
    data = load_dataset(config)
    frame = data.frame
    classes = sorted({str(v) for v in frame["label"].tolist()})
    numbers = {str(i): c for i, c in enumerate(classes, 1)}
    # labels that are numbers themselves ("0", "1") are typed as they are, never numbered
    numbered = not set(numbers) & set(classes)
    by_name = {c: c for c in classes} | (numbers if numbered else {})
    sample = audit_sample(frame, n, config.seed)
    out = sys.stderr if as_json else sys.stdout
    legend = (
        "   ".join(f"{i} {c}" for i, c in enumerate(classes, 1))
        if numbered
        else "type the label: " + ", ".join(classes)
    )
    print(
        printable(f"label audit of {data.path.name}: {len(sample)} rows, labels hidden"), file=out
    )
    print(printable(f"answers: {legend}   s skip   q stop"), file=out)
    answers: dict[int, str | None] = {}
    for i, (position, text) in enumerate(sample, 1):
        print(printable(f"\n[{i}/{len(sample)}] {text}"), file=out)
        while True:
            answer = _read_answer("label> ", out)
            if answer is None or answer == "q" or answer == "s" or answer in by_name:
                break
            print(
                printable(
                    f"not a label: {answer!r} (a label{' or its number' if numbered else ''}, s, q)"
                ),
                file=out,
            )
        if answer is None or answer == "q":
            break
        answers[position] = None if answer == "s" else by_name[answer]
    result: dict[str, Any] = score_audit(answers, frame, scope=noise_scope(data))
    save_audit(config.runs_path, data.sha256, str(data.path), result)
    wrong = {int(d["row"]): [AUDIT_SOURCE] for d in result["disagreements"]}
    if wrong:
        MarkStore(config.runs_path, data.sha256, data.path).import_marks(wrong, MARK_LABEL_WRONG)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(printable("\n" + audit_summary(result)))
        for item in result["disagreements"]:
            print(
                printable(f"  row {item['row']}: given {item['given']!r}, yours {item['yours']!r}")
            )
        if wrong:
            print(
                f"{len(wrong)} row(s) marked label-wrong in {config.runs_path / 'data_marks.json'}"
            )
    return 0
