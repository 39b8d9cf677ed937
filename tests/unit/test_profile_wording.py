"""Each figure of the profile is worded once: the truncation share names the max_len it is
at, in the section's title and body alike; corrupted rows are counted apart from the
extreme-length flag in the advice, the title and the splits table."""

from __future__ import annotations

from rich.console import Console

from tuirecipe.data.profile.corrupted import corrupted_counts
from tuirecipe.ui.profile_render import section_summary
from tuirecipe.ui.profile_render.distributions import render_lengths, truncation_words
from tuirecipe.ui.profile_render.splits import _corrupted

LENGTHS = {
    "p50": 20,
    "p95": 53,
    "max_len": 128,
    "truncation_rate": 0.002,
    "suggested_max_len": 64,
    "truncation_rate_at_suggested": 0.03,
}


def text_of(renderable) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def test_title_and_body_give_the_truncation_at_the_same_max_len():
    words = truncation_words(LENGTHS)
    assert words.startswith("max_len 128 truncates 0.2% of rows")
    assert "suggested max_len 64 would truncate 3.0%" in words
    assert words in section_summary("lengths", LENGTHS)
    assert words in text_of(render_lengths(LENGTHS))
    # the suggested figure never stands beside "truncates" alone
    assert "suggested max_len 64, truncates" not in section_summary("lengths", LENGTHS)


def test_no_suggestion_when_it_is_the_configured_max_len():
    same = {**LENGTHS, "suggested_max_len": 128}
    assert truncation_words(same) == "max_len 128 truncates 0.2% of rows"


def test_extreme_length_is_counted_apart_from_corruption():
    section = {
        "mojibake": {"count": 2},
        "control_chars": {"count": 3},
        "extreme_length": {"count": 1},
    }
    assert corrupted_counts(section) == (5, 1)
    assert section_summary("corrupted", section) == "5 corrupted, 1 extreme length"
    split = {"corrupted": {"mojibake": 2, "control_chars": 3, "extreme_length": 1}}
    assert _corrupted(split) == "5"
    # nothing long: the title says corruption only
    assert corrupted_counts({"mojibake": {"count": 2}}) == (2, 0)
    assert section_summary("corrupted", {"mojibake": {"count": 2}}) == "2 corrupted"
