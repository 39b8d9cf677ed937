"""Check 13, the manual checks: things only a person can do, ticked with a note.

Their ``run`` is never called (the runner runs automatic checks only); the console ticks
them through :class:`tuirecipe.checks.store.ChecklistStore`, which also records ticks of
any other check a person confirms by hand (the input view, for one).
"""

from __future__ import annotations

from tuirecipe.checks.base import Check, register


@register
class LookedAtData(Check):
    name = "looked_at_data"
    title = "Looked through the data"
    stage = "data"
    kind = "manual"
    order = 10
    description = (
        "Read a few hundred examples, of every class and from the longest and shortest "
        "ends. Look for duplicates, empty or truncated texts, markup and boilerplate, "
        "labels that depend on something the text does not show, and what you yourself use "
        "to decide. Note what you found: it is the prior for everything that follows."
    )


@register
class UnderstoodLabels(Check):
    name = "understood_labels"
    title = "Understood the labels"
    stage = "data"
    kind = "manual"
    order = 20
    description = (
        "Know what each label means and how it was produced: the class balance, classes "
        "that overlap or are easily confused, examples whose label you would dispute, and "
        "(for regression) the range, units and outliers of the target. Write down the "
        "confusions you expect the model to make."
    )


@register
class ReadMispredictions(Check):
    name = "read_mispredictions"
    title = "Read the mispredictions"
    stage = "overfit"
    kind = "manual"
    order = 90
    description = (
        "Read the dev examples the model gets wrong, most confident first. Sort them into "
        "causes: a wrong gold label, a genuinely ambiguous text, a pattern the model has "
        "not learned (negation, rare words), or a preprocessing bug (truncation, unknown "
        "tokens). The biggest group is where the next experiment should go."
    )
