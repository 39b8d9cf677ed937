"""Hooks for training frameworks, on their own extension points, on top of
:mod:`tuirecipe.track`: :mod:`.lightning` (a Lightning ``Logger``) and :mod:`.hf` (a
Hugging Face ``TrainerCallback``). Each imports its framework; this package does not."""
