"""Geometry shared by the stages: staff margins (synth, extract), levelling lines and the
bounds of their snippets (cut, words)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

STAFF_MARGIN_SPACES = 2.5
EDGE_TOLERANCE = 1e-6  # pixels of rounding noise a polygon's bounds ignore
SNIPPET_MARGIN = 1  # pixels a snippet holds around them (the shipped recognizers learnt with it)


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


def level_angle(baseline: np.ndarray) -> float:
    """The slope of a baseline in degrees (least squares), 0 when it has no length.

    Fitted about the points' mean rather than by a LAPACK solver, so a level
    baseline gives exactly 0: a solver's rounding noise (slopes of 1e-17 on level
    staves) can move the edge of a snippet by a pixel from one run to another.
    """
    if len(baseline) < 2:
        return 0.0
    dx = baseline[:, 0] - baseline[:, 0].mean()
    dy = baseline[:, 1] - baseline[:, 1].mean()
    run = float((dx * dx).sum())
    return math.degrees(math.atan(float((dx * dy).sum()) / run)) if run else 0.0


def levelling(polygon: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The rotation by ``angle`` degrees about the polygon's centre (a 2×3 matrix) that
    levels a line, and the polygon turned by it."""
    import cv2

    matrix = cv2.getRotationMatrix2D(tuple(map(float, polygon.mean(0))), angle, 1.0)
    return matrix, cv2.transform(polygon[None].astype(np.float64), matrix)[0]


def snippet_bounds(turned: np.ndarray) -> tuple[int, int, int, int]:
    """The pixel box ``x0, y0, x1, y1`` a levelled polygon is cut to: its bounds, less
    rounding noise, and a pixel around them."""
    x0, y0 = np.floor(turned.min(0) + EDGE_TOLERANCE).astype(int) - SNIPPET_MARGIN
    x1, y1 = np.ceil(turned.max(0) - EDGE_TOLERANCE).astype(int) + SNIPPET_MARGIN
    return int(x0), int(y0), int(x1), int(y1)
