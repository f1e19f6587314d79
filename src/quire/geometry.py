"""Geometry rules shared by the stages that write staves (synth, extract)."""

from __future__ import annotations

from collections.abc import Iterable

STAFF_MARGIN_SPACES = 2.5


def staff_margins(
    top: float, bottom: float, space: float, others: Iterable[tuple[float, float]]
) -> tuple[float, float]:
    """How far a staff's polygon reaches above its top line and below its bottom line.

    2.5 staff spaces, never more than half way to a neighbouring staff; ``others``
    are the (top line, bottom line) of the staves that may neighbour it.
    """
    others = list(others)
    above = min([STAFF_MARGIN_SPACES * space] + [(top - b) / 2 for _, b in others if b < top])
    below = min([STAFF_MARGIN_SPACES * space] + [(t - bottom) / 2 for t, _ in others if t > bottom])
    return above, below
