"""Plot axes: integer step ticks, labels that never touch, a log axis the right way up."""

from __future__ import annotations

import math

import pytest

from tuirecipe.ui.widgets.axes import format_ticks, nice_ticks, x_axis, y_axis


def label_spans(axis, columns: int) -> list[tuple[float, float]]:
    """Where each x label would sit, centred on its tick, in data columns."""
    per_unit = (columns - 1) / (axis.high - axis.low)
    spans = []
    for tick, label in zip(axis.ticks, axis.labels, strict=True):
        centre = (tick - axis.low) * per_unit
        spans.append((centre - len(label) / 2, centre + len(label) / 2))
    return spans


@pytest.mark.parametrize("high", [7, 56, 200, 1_234, 99_999, 2_000_000])
@pytest.mark.parametrize("columns", [12, 30, 70, 150])
def test_step_ticks_are_integers_whose_labels_do_not_touch(high, columns):
    axis = x_axis(1, high, columns, integer=True)
    assert len(axis.ticks) >= 1
    assert all(float(t).is_integer() for t in axis.ticks)
    assert all("." not in label for label in axis.labels)
    assert all(1 <= t <= high for t in axis.ticks)
    spans = label_spans(axis, columns)
    assert all(b[0] - a[1] >= 1 for a, b in zip(spans, spans[1:], strict=False))


def test_a_short_run_gets_integer_ticks_not_decimals():
    # plotext put ticks at 1.0, 50.8, 100.5 ... for a 200-step run
    axis = x_axis(1, 200, 40, integer=True)
    assert axis.labels == ("50", "100", "150", "200")
    # a 3-step run: steps 1, 2, 3, never 1.5
    assert set(x_axis(1, 3, 60, integer=True).labels) <= {"1", "2", "3"}


def test_epochs_may_be_fractional_and_large_steps_are_shortened():
    assert x_axis(0, 2.5, 40, integer=False).labels == ("0.0", "0.5", "1.0", "1.5", "2.0", "2.5")
    assert x_axis(1, 120_000, 30, integer=True).labels == ("50k", "100k")


def test_nice_ticks_are_multiples_of_one_two_or_five():
    ticks = nice_ticks(0.013, 0.987, 6)
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert steps == {0.2}
    assert format_ticks([0.1, 0.2, 0.30000000000000004]) == ["0.1", "0.2", "0.3"]


@pytest.mark.parametrize("rows", [2, 4, 6, 11, 30])
def test_linear_y_ticks_cover_the_data_increase_upwards_and_fit_the_rows(rows):
    axis = y_axis(0.25, 1.37, rows)
    assert axis.low <= 0.25 and axis.high >= 1.37
    assert list(axis.ticks) == sorted(axis.ticks)
    assert 2 <= len(axis.ticks) <= max(2, rows // 3 + 1)
    assert len(set(axis.labels)) == len(axis.labels)


def test_a_constant_line_gets_a_band_around_it():
    axis = y_axis(0.001, 0.001, 8)
    assert axis.low < 0.001 < axis.high


def test_log_axis_of_a_constant_learning_rate_is_the_right_way_up():
    # plotext drew this axis upside down: 0.03 at the bottom, 0.00003 at the top
    value = math.log10(0.001)
    axis = y_axis(value, value, 8, log=True)
    assert axis.low < value < axis.high
    assert list(axis.ticks) == sorted(axis.ticks)
    values = [float(label) for label in axis.labels]
    assert values == sorted(values) and 0.001 in values


def test_log_axis_over_decades_labels_powers_of_ten():
    axis = y_axis(math.log10(2e-5), math.log10(1.6), 10, log=True)
    assert axis.low <= math.log10(2e-5) and axis.high >= math.log10(1.6)
    values = [float(label) for label in axis.labels]
    assert values == sorted(values)
    assert all(math.log10(v).is_integer() for v in values)
    assert 2 <= len(values) <= 4


def test_log_axis_within_a_decade_uses_one_two_five():
    axis = y_axis(math.log10(0.25), math.log10(0.9), 12, log=True)
    values = [float(label) for label in axis.labels]
    assert values == sorted(values) and len(values) >= 2
    assert all(int(f"{v:e}"[0]) in (1, 2, 3, 5) for v in values)
