"""The label audit: the human-baseline screen, on a seeded random sample of the whole data
file, scored as agreement with the file's labels (the recipe's "select samples and estimate
how noisy the dataset is").

Same keys as the human baseline (one per class, ``s`` skips, backspace goes back). At the
end :func:`~tuirecipe.data.label_audit.score_audit` gives the agreement and the implied
noise rate with Wilson intervals; the result is appended to ``label_audits.json`` and is
the screen's dismiss value (the Data pane marks the rows you disagreed on label-wrong).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuirecipe.config import Config
from tuirecipe.data.label_audit import audit_sample, audit_summary, save_audit, score_audit
from tuirecipe.ui.screens.human_baseline import HumanBaselineScreen
from tuirecipe.ui.widgets.check_detail import dict_table

if TYPE_CHECKING:
    from tuirecipe.data.profiling import LoadedDataset

DEFAULT_AUDIT_ROWS = 50


class LabelAuditScreen(HumanBaselineScreen):
    """Relabel ``n`` sampled rows of the loaded file; dismisses with the audit result."""

    TITLE_TEXT = "Label audit"
    LOADING_TEXT = "Drawing the rows to relabel…"

    def __init__(self, config: Config, data: LoadedDataset, n: int = DEFAULT_AUDIT_ROWS) -> None:
        super().__init__(config)
        self.data = data
        self.n = n

    def load_examples(self) -> tuple[list[tuple[int, str]], dict[int, str], list[str]]:
        frame = self.data.frame
        sample = audit_sample(frame, self.n, self.config.seed)
        gold = {p: str(frame["label"].iat[p]) for p, _ in sample}
        classes = sorted({str(v) for v in frame["label"].tolist()})
        return sample, gold, classes

    def record(self, answers: dict[int, str | None]) -> tuple[str, Any, str]:
        from tuirecipe.data.label_noise_run import noise_scope

        result = score_audit(answers, self.data.frame, scope=noise_scope(self.data))
        self.result = result
        where = "saved in label_audits.json"
        try:
            save_audit(self.config.runs_path, self.data.sha256, str(self.data.path), result)
        except OSError as exc:
            where = "not saved"
            self.notify(f"label audit not saved: {exc}", severity="error", markup=False)
        rows = [
            {"row": d["row"], "given": d["given"], "yours": d["yours"], "text": d["text"]}
            for d in result["disagreements"]
        ]
        shown = (
            dict_table(rows, "where you and the given label disagree (marked label-wrong)")
            if rows
            else "You agreed with every given label you answered."
        )
        return (
            audit_summary(result),
            shown,
            f"[$text-muted]{where} · [b]esc[/b] back to the data[/]",
        )
