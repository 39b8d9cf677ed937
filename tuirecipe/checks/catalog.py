"""Imports every built-in check module so that each registers itself.

The registry is ``tuirecipe.checks.base`` (``@register``); this list only makes sure every
module is loaded. tests/test_registries.py fails when a module that registers a check is
missing here, or a check is missing from the README's list.

Check modules import only ``tuirecipe.checks.base`` at module level (torch is imported
inside ``run``), so the console can list the checklist without loading torch.
"""

from tuirecipe.checks import (  # noqa: F401
    baseline,
    batch_independence,
    eval_determinism,
    fixed_seed,
    forward_independence,
    gradients,
    human,
    init_loss,
    initialisation,
    input_independent,
    input_view,
    label_signal,
    loss_decreases,
    lr_range,
    manual,
    overfit_batch,
    padding_invariance,
)
