"""Axis ticks for the terminal plots: where the ticks go and what their labels say.

plotext picks its own ticks, and in a terminal they read badly: decimal steps (``55.8``),
labels that run into each other on a narrow plot, and a log axis drawn upside down when
the values are constant. The curve plots therefore choose every tick here and hand them
to plotext with fixed limits:

- :func:`nice_ticks` — ticks at 1, 2 or 5 × 10^k, integers only where asked (steps);
- :func:`x_axis` — as many ticks as fit the plot's columns without two labels touching;
- :func:`y_axis` — as many as fit its rows (one tick every other row at most), linear or
  log; on a log axis the plot draws ``log10(y)`` linearly, so ticks always increase
  upwards, and a constant line sits in the middle of a one-decade band.

Pure functions on numbers (no Textual), so they are tested directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

NICE_MANTISSAS = (1.0, 2.0, 5.0, 10.0)
LABEL_GAP = 2  # blank columns kept between two x tick labels


@dataclass(frozen=True)
class Axis:
    """Fixed limits and labelled ticks (positions in the plotted space)."""

    low: float
    high: float
    ticks: tuple[float, ...]
    labels: tuple[str, ...]


def nice_step(span: float, max_ticks: int, integer: bool = False) -> float:
    """The smallest 1/2/5 × 10^k step that puts at most ``max_ticks`` ticks on ``span``."""
    intervals = max(1, max_ticks - 1)
    raw = span / intervals if span > 0 else 1.0
    exponent = math.floor(math.log10(raw))
    step = 10.0**exponent
    for mantissa in NICE_MANTISSAS:
        step = mantissa * 10.0**exponent
        if step >= raw * (1 - 1e-9):
            break
    if integer:
        step = max(1.0, round(step))
    return step


def nice_ticks(low: float, high: float, max_ticks: int, integer: bool = False) -> list[float]:
    """Multiples of a nice step inside [low, high] (at most ``max_ticks`` of them)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high < low:
        return []
    step = nice_step(high - low, max_ticks, integer)
    while True:
        first = math.ceil(low / step - 1e-9)
        last = math.floor(high / step + 1e-9)
        ticks = [_clean(k * step) for k in range(first, last + 1)]
        if len(ticks) <= max(1, max_ticks):
            return ticks
        step = max(1.0, next_nice(step)) if integer else next_nice(step)


def _clean(value: float) -> float:
    """Round away float noise (0.30000000000000004 → 0.3)."""
    return float(f"{value:.12g}") if value else 0.0


def format_ticks(ticks: list[float], integer: bool = False) -> list[str]:
    """Labels with one shared precision, as short as keeps them distinct."""
    if not ticks:
        return []
    if integer or all(float(t).is_integer() for t in ticks):
        return [_integer_label(int(round(t))) for t in ticks]
    biggest = max(abs(t) for t in ticks)
    if biggest >= 1e5 or biggest < 1e-3:
        return [f"{t:.2g}" for t in ticks]
    step = min(b - a for a, b in zip(ticks, ticks[1:], strict=False)) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    for places in range(decimals, decimals + 4):
        labels = [f"{t:.{places}f}" for t in ticks]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def _integer_label(value: int) -> str:
    if abs(value) >= 10_000 and value % 1000 == 0:
        return f"{value // 1000}k"
    return str(value)


def x_axis(low: float, high: float, columns: int, integer: bool) -> Axis:
    """Ticks along ``columns`` data columns whose labels never touch.

    ``integer``: the axis counts steps, so a tick is never between two steps."""
    if high <= low:
        high = low + 1.0
    for count in range(max(2, columns // 4), 1, -1):
        ticks = nice_ticks(low, high, count, integer)
        labels = format_ticks(ticks, integer)
        if _fits(ticks, labels, low, high, columns):
            # plotext drops a label that would run past the right edge: leave it room.
            per_unit = (columns - 1) / (high - low)
            overhang = (ticks[-1] - low) * per_unit + len(labels[-1]) / 2 + 1 - columns
            if overhang > 0:
                high += overhang / per_unit
            return Axis(low, high, tuple(ticks), tuple(labels))
    ticks = [low] if not integer else [float(math.ceil(low))]
    return Axis(low, high, tuple(ticks), tuple(format_ticks(ticks, integer)))


def _fits(ticks: list[float], labels: list[str], low: float, high: float, columns: int) -> bool:
    if len(ticks) < 2:
        return False
    per_unit = (columns - 1) / (high - low)
    positions = [(t - low) * per_unit for t in ticks]
    gaps = [b - a for a, b in zip(positions, positions[1:], strict=False)]
    widest = max(len(label) for label in labels)
    return min(gaps) >= widest + LABEL_GAP


def y_axis(low: float, high: float, rows: int, log: bool = False) -> Axis:
    """Limits and ticks for ``rows`` data rows, a tick about every third row.

    ``log``: ``low`` and ``high`` are log10 of the data (the plot draws log10(y)); the
    labels name the data's own values. A constant line gets a band around it."""
    max_ticks = max(2, rows // 3 + 1)
    if log:
        return _log_axis(low, high, max_ticks)
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, max_ticks)
    while True:  # the limits snap outwards to the step, which may add a tick: step up
        first = math.floor(low / step + 1e-9)
        last = math.ceil(high / step - 1e-9)
        if last - first + 1 <= max_ticks:
            break
        step = next_nice(step)
    ticks = [_clean(k * step) for k in range(first, last + 1)]
    return Axis(ticks[0], ticks[-1], tuple(ticks), tuple(format_ticks(ticks)))


def next_nice(step: float) -> float:
    """The nice step after ``step`` (1 → 2 → 5 → 10 …)."""
    exponent = math.floor(math.log10(step) + 1e-9)
    mantissa = step / 10.0**exponent
    for candidate in NICE_MANTISSAS:
        if candidate > mantissa * (1 + 1e-9):
            return _clean(candidate * 10.0**exponent)
    return _clean(20.0 * 10.0**exponent)


def _log_axis(low: float, high: float, max_ticks: int) -> Axis:
    if high - low < 1.0:  # less than a decade (or constant): a one-decade band at least
        middle = (low + high) / 2
        low, high = min(low, middle - 0.5), max(high, middle + 0.5)
    if high - low >= 2.0:  # whole decades, thinned to fit
        first, last = math.floor(low), math.ceil(high)
        every = max(1, math.ceil((last - first) / (max_ticks - 1)))
        last = first + every * math.ceil((last - first) / every)
        exponents = list(range(first, last + 1, every))
        ticks = [float(k) for k in exponents]
        labels = [_power_label(k) for k in exponents]
        return Axis(float(first), float(last), tuple(ticks), tuple(labels))
    for mantissas in ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), tuple(float(m) for m in range(1, 10))):
        values = [
            m * 10.0**k
            for k in range(math.floor(low) - 1, math.ceil(high) + 1)
            for m in mantissas
            if low - 1e-9 <= math.log10(m * 10.0**k) <= high + 1e-9
        ]
        if len(values) >= 2 or mantissas[-1] == 9.0:
            break
    if len(values) > max_ticks:
        values = values[:: math.ceil(len(values) / max_ticks)]
    ticks = [math.log10(v) for v in values]
    return Axis(low, high, tuple(ticks), tuple(f"{v:.3g}" for v in values))


def _power_label(exponent: int) -> str:
    value = 10.0**exponent
    return f"{value:g}" if -3 <= exponent <= 4 else f"1e{exponent}"
