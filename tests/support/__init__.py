"""Helpers every test level imports (``tests`` is on ``sys.path`` through
``[tool.pytest.ini_options] pythonpath``).

The folders below hold files the tests load by path: user models (``USER_MODELS``; the
failing and faulty models in this folder itself, ``SUPPORT``, loaded the way a user's
``model.python_path`` loads them) and the malformed-input corpus (``BAD_INPUTS``).
"""

from __future__ import annotations

from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
TESTS_DIR = SUPPORT.parent
REPO_ROOT = TESTS_DIR.parent
USER_MODELS = SUPPORT / "user_models"
BAD_INPUTS = SUPPORT / "bad_inputs"
