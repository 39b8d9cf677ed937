"""The profile's label-noise section as drawn by the pane and the CLI: counts with their
interval, scope and unit; labels from the data shown literally; a section that did not
run says why."""

from __future__ import annotations

from rich.console import Console

from tuirecipe.ui.profile_render import profile_sections, render_section, section_label

SECTION = {
    "ran": True,
    "scope": "whole file: every usable row of x.csv (200)",
    "unit": "rows (given label vs out-of-fold guess)",
    "method": "confident learning",
    "source": "5-fold TF-IDF",
    "rows": 200,
    "flagged": 12,
    "rate": 0.06,
    "interval": [0.0346, 0.1019],
    "model_accuracy": 0.9,
    "joint_noise_rate": 0.055,
    "per_class": [
        {
            "label": "[b]neg[/b]",
            "rows": 100,
            "flagged": 7,
            "rate": 0.07,
            "interval": [0.03, 0.14],
            "most_suggested": "pos",
        },
        {
            "label": "pos",
            "rows": 100,
            "flagged": 5,
            "rate": 0.05,
            "interval": [0.02, 0.11],
            "most_suggested": "[b]neg[/b]",
        },
    ],
    "examples": [{"row": 17, "label": "[b]neg[/b]", "suggested": "pos", "confidence": 0.97}],
}


def _text(renderable) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_section_shows_counts_interval_scope_and_literal_labels() -> None:
    (entry,) = [s for s in profile_sections({"label_noise": SECTION}) if s[0] == "label_noise"]
    key, title, data = entry
    label = section_label(key, title, data)
    assert label.startswith("Label noise (whole file)") and "6.0%" in label and "12 rows" in label
    text = " ".join(_text(render_section(key, data)).split())
    assert "12 of 200 rows" in text and "3.5%–10.2%" in text
    assert "whole file: every usable row of x.csv (200)" in text
    assert "unit: rows" in text
    assert "[b]neg[/b]" in text  # a label from the data, not markup
    assert "row 17: [b]neg[/b] → pos (confidence 0.97)" in text


def test_a_section_that_did_not_run_says_why() -> None:
    section = {"ran": False, "status": "does not apply", "message": "does not apply to regression"}
    (entry,) = [s for s in profile_sections({"label_noise": section}) if s[0] == "label_noise"]
    assert section_label(*entry).endswith("does not apply")
    assert "does not apply to regression" in _text(render_section("label_noise", section))
