"""What a synthetic page leaves on disk: image, PageXML ground truth, layer masks, source.

```
<out>/images/<stem>.png        the page (grayscale)
<out>/page/<stem>.xml          PageXML 2019 ground truth
<out>/layers/<stem>/<layer>.png  one PNG per layer: the layer's colour, alpha 255
                               where a pixel belongs to it, else transparent (Pixel.js /
                               Paco layers; stored with a two-colour palette, which reads
                               as RGBA)
<out>/kern/<stem>.krn          the **kern the page was rendered from (music only)
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quire.io import atomic_save_image, atomic_write_text
from quire.layers import colour, save_layer

if TYPE_CHECKING:
    from quire.pagexml import PageDocument

LAYERS = ("background", "staff", "symbols", "text")
_STEP = 40.0  # pixels between polygon points, so that warps bend the outlines too


def densify(polygon: np.ndarray, closed: bool = True) -> np.ndarray:
    """Insert points every ``_STEP`` pixels along the outline."""
    ends = np.vstack([polygon[1:], polygon[:1]]) if closed else polygon[1:]
    out = []
    for start, end in zip(polygon, ends, strict=False):
        count = max(1, int(np.ceil(np.hypot(*(end - start)) / _STEP)))
        out += [start + (end - start) * t for t in np.arange(count) / count]
    if not closed:
        out.append(polygon[-1])
    return np.array(out)


@dataclass
class Line:
    polygon: np.ndarray
    baseline: np.ndarray
    text: str
    kind: str  # "staff" or "text"


@dataclass
class PageGeometry:
    """Regions of lines, in pixel coordinates; ``kind`` of region is music or text."""

    regions: list[tuple[str, list[Line]]] = field(default_factory=list)
    encoding: str | None = None

    @classmethod
    def from_shapes(
        cls,
        systems: list[list[tuple[np.ndarray, np.ndarray]]],
        texts: list[list[str]],
        encoding: str,
    ) -> PageGeometry:
        regions = [
            (
                "music",
                [
                    Line(densify(polygon), densify(baseline, closed=False), text, "staff")
                    for (polygon, baseline), text in zip(shapes, words, strict=True)
                ],
            )
            for shapes, words in zip(systems, texts, strict=True)
        ]
        return cls(regions, encoding)

    def lines(self) -> list[Line]:
        return [line for _, lines in self.regions for line in lines]

    def points(self) -> np.ndarray:
        arrays = [a for line in self.lines() for a in (line.polygon, line.baseline)]
        return np.vstack(arrays) if arrays else np.zeros((0, 2))

    def with_points(self, points: np.ndarray, size: tuple[int, int]) -> PageGeometry:
        """The same lines with moved points, clipped to a page of ``size``; points on
        straight stretches are dropped again."""
        points = np.clip(points, 0, np.array(size) - 1)
        offset = 0
        regions = []
        for kind, lines in self.regions:
            moved = []
            for line in lines:
                polygon = points[offset : offset + len(line.polygon)]
                offset += len(line.polygon)
                baseline = points[offset : offset + len(line.baseline)]
                offset += len(line.baseline)
                moved.append(
                    Line(_simplify(polygon, True), _simplify(baseline, False), line.text, line.kind)
                )
            regions.append((kind, moved))
        return PageGeometry(regions, self.encoding)


def _simplify(points: np.ndarray, closed: bool) -> np.ndarray:
    import cv2

    if len(points) <= 2:
        return points
    curve = cv2.approxPolyDP(points.astype(np.float32).reshape(-1, 1, 2), 1.0, closed)
    return curve.reshape(-1, 2).astype(np.float64)


def page_document(
    stem: str, size: tuple[int, int], geometry: PageGeometry, parameters: dict[str, object]
) -> PageDocument:
    """The ground-truth PageXML of one synthetic page.

    Its timestamps are ``SOURCE_DATE_EPOCH`` or else 1970-01-01, so that the same
    seed and settings give byte-identical files.
    """
    from quire.pagexml import PageDocument, now

    stamp = now(default_epoch=0)
    doc = PageDocument.new(f"{stem}.png", *size, stamp=stamp)
    for r, (kind, lines) in enumerate(geometry.regions, start=1):
        if not lines:
            continue
        prefix = "system" if kind == "music" else "region"
        corners = np.vstack([line.polygon for line in lines])
        (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
        region = doc.page.add_region(
            "TextRegion",
            f"{prefix}_{r}",
            [(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
            custom=[("structure", {"type": kind})],
        )
        for n, line in enumerate(lines, start=1):
            custom = [("structure", {"type": line.kind})]
            if line.kind == "staff" and geometry.encoding:
                custom.append(("encoding", {"name": geometry.encoding}))
            region.add_text_line(
                f"{prefix}_{r}_{'staff' if line.kind == 'staff' else 'line'}_{n}",
                line.polygon,
                line.baseline,
                text=line.text,
                custom=custom,
            )
    doc.set_reading_order([region.id for region in doc.page.regions()])
    doc.add_processing_step("synth", parameters=parameters, stamp=stamp)
    return doc


def write_page(
    output: Path,
    stem: str,
    image: np.ndarray,
    masks: list[np.ndarray],
    geometry: PageGeometry,
    source: str | None,
    parameters: dict[str, object],
) -> None:
    """Write image, layers, PageXML (last: its presence means the page is complete)."""
    from PIL import Image

    size = (image.shape[1], image.shape[0])
    atomic_save_image(
        output / "images" / f"{stem}.png", Image.fromarray(image, "L"), compress_level=1
    )
    for index, (name, mask) in enumerate(zip(LAYERS, masks, strict=True)):
        save_layer(output / "layers" / stem / f"{name}.png", mask, colour(name, index))
    if source is not None:
        atomic_write_text(output / "kern" / f"{stem}.krn", source)
    page_document(stem, size, geometry, parameters).write(output / "page" / f"{stem}.xml")
