"""Sound setups at the project's defaults get no ✗ from the whole automatic checklist.

A SUBSET of benchmarks/checks_matrix.py's sweep, chosen to fit in CI (about 45 s on one
core): the default config (TextCNN on the demo), the sample user model unchanged, GRU on
trec and the transformer on sms_spam (where zeroing the embeddings once failed
input_independent). The full sweep — all five built-ins on the demo, trec and sms_spam,
and every shipped sample config — takes several minutes: run
``python benchmarks/checks_matrix.py --sound`` before changing a verdict.
"""

from __future__ import annotations

import pytest
from conftest import REAL_DATA
from support import REPO_ROOT

from tuirecipe.checks.runner import run_checks
from tuirecipe.config import config_from_dict, load_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SAMPLES = REPO_ROOT / "sample_configs"


def _real(name: str) -> str:
    path = REAL_DATA / name / f"{name}.csv"
    if not path.is_file():
        pytest.skip(f"real dataset not available at {path}")
    return str(path)


SETUPS = {
    "default config (textcnn on the demo)": lambda: config_from_dict({}),
    "sample_configs/user_model.toml": lambda: load_config(SAMPLES / "user_model.toml"),
    "gru on trec": lambda: config_from_dict(
        {"data": {"path": _real("trec")}, "model": {"name": "gru"}}
    ),
    "transformer on sms_spam": lambda: config_from_dict(
        {"data": {"path": _real("sms_spam")}, "model": {"name": "transformer"}}
    ),
}


@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_sound_setup_gets_no_fail(setup: str, record_property) -> None:
    config = SETUPS[setup]()
    results = run_checks(config)
    record_property("statuses", {r.name: r.status for r in results})
    assert len(results) >= 16
    bad = [f"{r.name} {r.status}: {r.summary}" for r in results if r.status in ("fail", "error")]
    assert not bad, f"{setup}: " + " | ".join(bad)
