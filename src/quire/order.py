"""quire order: regions and lines in reading order.

Regions are ordered by a recursive XY cut of their bounding boxes: a block of
regions is split at the gaps that run right across it, columns (vertical gaps)
before bands (horizontal gaps), so a two-column page reads down the left column
first, a header spanning both columns comes before them, and a note in the margin
is a column of its own. Lines are ordered top to bottom within their region (staves
of a system top to bottom), words left to right within their line.

Written as the page's ``ReadingOrder`` (one ordered group of every top-level
region) and as ``custom="readingOrder {index:N;}"`` on regions, lines and words, as
Transkribus reads it; the ``TextLine`` elements of a region are also put in that
order, for tools that read lines in document order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from quire.batch import BatchResult
from quire.config import OrderConfig
from quire.pagexml import Node, PageDocument
from quire.workdir import edit_pages

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def box(points: Sequence[Sequence[float]]) -> Box | None:
    """The bounding box of points, ``None`` for none."""
    if not len(points):
        return None
    array = np.asarray(points, float)
    return (*array.min(0), *array.max(0))  # type: ignore[return-value]


def _groups(boxes: list[Box], items: list[int], axis: int, min_gap: float) -> list[list[int]]:
    """``items`` split at gaps of at least ``min_gap`` along ``axis`` (0: x, 1: y), in order."""
    spans = sorted(items, key=lambda i: boxes[i][axis])
    groups: list[list[int]] = []
    end = -np.inf
    for i in spans:
        if boxes[i][axis] - end >= min_gap or not groups:
            groups.append([])
        groups[-1].append(i)
        end = max(end, boxes[i][axis + 2])
    return groups


def xy_cut(
    boxes: list[Box], min_gap: tuple[float, float], items: list[int] | None = None
) -> list[int]:
    """The indices of ``boxes`` in reading order (columns left to right, bands top down)."""
    items = list(range(len(boxes))) if items is None else items
    if len(items) <= 1:
        return items
    for axis in (0, 1):
        groups = _groups(boxes, items, axis, min_gap[axis])
        if len(groups) > 1:
            return [i for group in groups for i in xy_cut(boxes, min_gap, group)]
    return sorted(items, key=lambda i: (boxes[i][1], boxes[i][0]))


def _set_index(node: Node, index: int) -> None:
    node.custom_set("readingOrder", {"index": str(index)})


def _line_key(line: Node) -> tuple[float, float]:
    """Top to bottom by the baseline's (else the polygon's) middle height, then left."""
    points = line.baseline or line.coords  # type: ignore[attr-defined]
    found = box(points)
    return ((found[1] + found[3]) / 2, found[0]) if found else (np.inf, np.inf)


def order_page(doc: PageDocument, config: OrderConfig) -> bool:
    """Put the regions, lines and words of ``doc`` in reading order."""
    page = doc.page
    regions = [r for r in page.regions() if r.id]
    boxes = [box(r.coords) for r in regions]
    placed = [i for i, b in enumerate(boxes) if b is not None]
    width = page.width or max((boxes[i][2] for i in placed), default=1)
    height = page.height or max((boxes[i][3] for i in placed), default=1)
    gaps = (config.min_gap * width, config.min_gap * height)
    order = [placed[i] for i in xy_cut([boxes[i] for i in placed], gaps)]  # type: ignore[misc]
    order += [i for i in range(len(regions)) if i not in placed]  # no coordinates: last
    doc.set_reading_order([regions[i].id for i in order])  # type: ignore[misc]
    for index, i in enumerate(order):
        _set_index(regions[i], index)
    for region in doc.regions():
        lines = sorted(region.text_lines(), key=_line_key)
        region.set_line_order(lines)
        for index, line in enumerate(lines):
            _set_index(line, index)
            words = sorted(line.words(), key=lambda w: (box(w.coords) or (np.inf,))[0])
            for index, word in enumerate(words):
                _set_index(word, index)
    doc.add_processing_step("order", parameters=config.model_dump())
    return True


def order(work: Path, config: OrderConfig) -> BatchResult:
    """Reading order for every page of ``work/page/``."""
    return edit_pages(work, lambda doc: order_page(doc, config), "order")
