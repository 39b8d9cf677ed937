"""A checkbox whose state is in its text: ``[x]`` ticked, ``[ ]`` not.

Textual's Checkbox draws ``▐X▌`` both ways and tells them apart by colour alone; in some
themes (and in 16 colours) an unticked box looks ticked, and an export removed rows its
user believed were kept. The state here reads the same in every theme and without colour.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class TickBox(Checkbox):
    """A :class:`~textual.widgets.Checkbox` drawn as ``[x]`` / ``[ ]``."""

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--label")
        return Content.assemble(("[x]" if self.value else "[ ]", style))
