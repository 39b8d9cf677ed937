"""Throughput figures (issue 16): tokens/s from the recorded non-padding tokens, and on
CUDA the model TFLOP/s and the share of the card's peak; one core function shown by the
Train pane and `tuirecipe runs`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuirecipe.events import StepMetrics
from tuirecipe.runs.curves import RunHistory
from tuirecipe.runs.listing import list_runs
from tuirecipe.runs.rundir import EventWriter, create_run_dir
from tuirecipe.throughput import card_peak, math_mode, throughput, window_throughput

H200_BF16 = {
    "device": "cuda:0",
    "precision": "bf16",
    "tf32": False,
    "non_embedding_params": 19_000_000,
    "device_name": "NVIDIA H200",
}


def test_cpu_gives_tokens_per_second_only() -> None:
    # a constructed batch: 4 rows of 3, 5, 7 and 1 real tokens, 8 such steps in 2 s
    tokens = 8 * (3 + 5 + 7 + 1)
    figures = throughput(tokens, 2.0, {"device": "cpu", "non_embedding_params": 10**6})
    assert figures is not None
    assert figures.tokens_per_s == pytest.approx(64.0)
    assert figures.tflops is None and figures.utilisation is None
    assert figures.text() == "64 tok/s"
    assert throughput(0, 2.0, {}) is None and throughput(10, 0.0, {}) is None


def test_cuda_gives_six_n_d_tflops_and_the_share_of_the_bf16_peak() -> None:
    figures = throughput(2_000_000, 4.0, H200_BF16)
    assert figures is not None
    # 6 × 19e6 parameters × 500,000 tokens/s = 57 TFLOP/s; H200 dense bf16 989
    assert figures.tflops == pytest.approx(57.0)
    assert figures.utilisation == pytest.approx(57.0 / 989.0)
    assert (figures.card, figures.mode) == ("H200", "bf16")
    assert figures.text() == "500,000 tok/s · 57.0 TFLOP/s · 5.8 % of H200 bf16 peak"


def test_fp32_is_judged_against_the_tf32_peak_only_when_tf32_was_on() -> None:
    assert math_mode({"precision": "fp32", "tf32": True}) == "tf32"
    assert math_mode({"precision": "fp32", "tf32": False}) == "fp32"
    assert math_mode({}) == "fp32"
    a100 = {**H200_BF16, "precision": "fp32", "tf32": True, "device_name": "NVIDIA A100-SXM4-80GB"}
    figures = throughput(1_000_000, 1.0, a100)
    assert figures is not None and figures.utilisation == pytest.approx(114.0 / 156.0)
    plain = throughput(1_000_000, 1.0, {**a100, "tf32": False})
    assert plain is not None and plain.utilisation == pytest.approx(114.0 / 19.5)


def test_card_names_match_the_right_row_and_unknown_cards_say_so() -> None:
    assert card_peak("NVIDIA H100 80GB HBM3", "bf16") == ("H100 SXM", 989.0)
    assert card_peak("NVIDIA H100 PCIe", "bf16") == ("H100 PCIe", 756.0)
    assert card_peak("NVIDIA L40S", "bf16")[0] == "L40S"
    assert card_peak("NVIDIA L4", "bf16")[0] == "L4"
    assert card_peak("NVIDIA H200 NVL", "bf16") == ("", None)  # other clocks: not guessed
    assert card_peak("Tesla V100-SXM2-16GB", "bf16") == ("V100", None)  # no bf16 there
    unknown = throughput(1_000_000, 1.0, {**H200_BF16, "device_name": "Mystery GPU 9000"})
    assert unknown is not None and unknown.utilisation is None and unknown.tflops is not None
    assert "peak of Mystery GPU 9000 not known: no utilisation" in unknown.text()
    v100 = throughput(1_000_000, 1.0, {**H200_BF16, "device_name": "Tesla V100-SXM2-16GB"})
    assert v100 is not None and v100.text().endswith("no bf16 peak for V100")
    sizeless = throughput(1_000_000, 1.0, {"device": "cuda:0", "precision": "bf16"})
    assert sizeless is not None and sizeless.tflops is None and "model size" in sizeless.text()


def test_window_throughput_uses_the_last_steps_only() -> None:
    tokens = [0, 100, 200, 1200, 2200]  # cumulative, one per step
    elapsed = [0.0, 1.0, 2.0, 3.0, 4.0]
    last_two = window_throughput(tokens, elapsed, 2, None)
    assert last_two is not None and last_two.tokens_per_s == pytest.approx(1000.0)
    whole = window_throughput(tokens, elapsed, 100, None)
    assert whole is not None and whole.tokens_per_s == pytest.approx(550.0)
    assert window_throughput([0], [0.0], 2, None) is None
    assert window_throughput([0, 0], [0.0, 1.0], 2, None) is None  # an older run: no tokens


def steps(n: int, per_step: int) -> list[StepMetrics]:
    return [
        StepMetrics(step=i, epoch=0.1 * i, loss=1.0, lr=1e-3, tokens=per_step * i, elapsed=0.5 * i)
        for i in range(1, n + 1)
    ]


def test_train_pane_rate_line_shows_the_figures(tmp_path: Path) -> None:
    from tuirecipe.ui.widgets.run_status import rate_text

    history = RunHistory()
    events = steps(10, 300)
    history.add(events)
    line = rate_text(events[-1], history, 100, "running", execution=H200_BF16)
    assert line.startswith("2.0 steps/s") and "600 tok/s" in line and "TFLOP/s" in line
    short = rate_text(events[-1], history, 100, "running", short=True, execution=H200_BF16)
    assert "600 tok/s" in short and "TFLOP/s" not in short
    old = RunHistory()
    old.add([StepMetrics(step=i, epoch=0.0, loss=1.0, lr=1e-3, elapsed=0.5 * i) for i in (1, 2)])
    assert "tok/s" not in rate_text(events[1], old, 100, "running")


def test_runs_listing_gives_the_whole_runs_throughput(tmp_path: Path) -> None:
    measured = create_run_dir(tmp_path, "measured")
    writer = EventWriter(measured.events_path)
    for event in steps(8, 250):  # 2,000 tokens in 4 s
        writer.write(event)
    writer.close()
    measured.write_status(state="finished", step=8)
    measured.update_meta(device="cuda:0", execution=H200_BF16)
    older = create_run_dir(tmp_path, "older")  # recorded before tokens were
    writer = EventWriter(older.events_path)
    writer.write(StepMetrics(step=1, epoch=0.1, loss=1.0, lr=1e-3, elapsed=1.0))
    writer.close()
    older.write_status(state="finished", step=1)
    by_id = {r.id: r for r in list_runs(tmp_path)}
    run = by_id[measured.id]
    assert run.throughput["tokens_per_s"] == pytest.approx(500.0)
    assert run.throughput_text().startswith("500 tok/s · 0.1 TFLOP/s · 0.0 % of H200 bf16")
    assert by_id[older.id].throughput == {} and by_id[older.id].throughput_text() == "-"
