"""quire extract: layer masks to PageXML geometry (staves, systems, text lines, regions).

Staves. The staff-line layer is closed horizontally over the gaps noteheads leave and
split into connected components; each long component is a line, followed column by
column (every page width / ``strips`` pixels), so skew and curvature are kept.
Pieces of a broken line are joined end to end. Each line's nearest neighbour below,
where both run, forms chains; five lines about one staff space apart make a staff.
Its baseline follows the bottom line; its polygon spans 2.5 staff spaces above and
below the lines, never more than half way to the neighbouring staff.

Systems. Two staves one above the other belong to one system when the symbols
layer bridges the gap between them (barlines, braces) in a few columns.

Text. Text-layer pixels are smeared horizontally over gaps narrower than a few
letter heights (word spaces, not column gutters) and split into connected
components; each is a line whose baseline is the lowest row that still holds a
good share of the line's ink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quire.batch import BatchResult, run_batch
from quire.config import ExtractConfig
from quire.errors import InputError
from quire.geometry import staff_margins
from quire.layers import read_layer


@dataclass
class Track:
    points: list[tuple[float, float]] = field(default_factory=list)  # (x, y) per strip

    @property
    def y(self) -> float:
        return float(np.median([y for _, y in self.points]))

    def y_at(self, x: float) -> float:
        xs, ys = zip(*self.points, strict=True)
        return float(np.interp(x, xs, ys))


@dataclass
class Staff:
    lines: list[Track]
    space: float

    @property
    def x0(self) -> float:
        return min(t.points[0][0] for t in self.lines)

    @property
    def x1(self) -> float:
        return max(t.points[-1][0] for t in self.lines)

    @property
    def top(self) -> float:
        return self.lines[0].y

    @property
    def bottom(self) -> float:
        return self.lines[-1].y


def find_tracks(staff: np.ndarray, step: int, min_length: int) -> list[Track]:
    """Staff lines as tracks: closed horizontally (bridging the gaps that noteheads and
    breaks leave), split into connected components, each followed column by column
    (so skew and curvature are kept), sampled every ``step`` pixels."""
    import cv2

    bridge = max(3, step // 2)
    closed = cv2.morphologyEx(staff.view(np.uint8), cv2.MORPH_CLOSE, np.ones((5, bridge), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    tracks = []
    for i in range(1, count):
        x, y, w, h = stats[i, :4]
        if w < min_length:
            continue
        mine = labels[y : y + h, x : x + w] == i
        rows = np.arange(h, dtype=np.float64)[:, None]
        weight = mine.sum(axis=0)
        centre = (mine * rows).sum(axis=0) / np.maximum(weight, 1)
        columns = [c for c in range(0, w, step) if weight[c]] + ([w - 1] if weight[w - 1] else [])
        tracks.append(Track([(float(x + c), float(y + centre[c])) for c in sorted(set(columns))]))
    return tracks


def _join_pieces(tracks: list[Track], max_gap: float) -> list[Track]:
    """Join a track to one that ends shortly before it starts at the same height."""
    tracks = sorted(tracks, key=lambda t: t.points[0][0])
    joined: list[Track] = []
    for track in tracks:
        (x, y) = track.points[0]
        before = [
            t
            for t in joined
            if 0 < x - t.points[-1][0] <= max_gap and abs(_expected(t, x) - y) <= 3
        ]
        if before:
            best = min(before, key=lambda t: abs(_expected(t, x) - y))
            best.points.extend(track.points)
        else:
            joined.append(Track(list(track.points)))
    return joined


def _expected(track: Track, x: float) -> float:
    """Where a track should be at ``x``: its end moved along its last stretch."""
    (x1, y1) = track.points[-1]
    (x0, y0) = track.points[max(0, len(track.points) - 4)]
    return y1 if x1 == x0 else y1 + (y1 - y0) / (x1 - x0) * (x - x1)


def _distance(upper: Track, lower: Track) -> float | None:
    """How far ``lower`` runs below ``upper`` where both are (None: they do not overlap)."""
    x0 = max(upper.points[0][0], lower.points[0][0])
    x1 = min(upper.points[-1][0], lower.points[-1][0])
    if x1 - x0 < 0.3 * min(
        upper.points[-1][0] - upper.points[0][0], lower.points[-1][0] - lower.points[0][0]
    ):
        return None
    xs = np.linspace(x0, x1, 7)
    return float(np.median([lower.y_at(x) - upper.y_at(x) for x in xs]))


def group_staves(tracks: list[Track], min_length: float, max_gap: float) -> list[Staff]:
    """Chains of lines, each the nearest one below the last where they overlap, split
    where the distance jumps; every five lines about one staff space apart are a staff."""
    lines = [
        t for t in _join_pieces(tracks, max_gap) if t.points[-1][0] - t.points[0][0] >= min_length
    ]
    below: dict[int, tuple[int, float]] = {}
    for i, upper in enumerate(lines):
        options = [
            (d, j)
            for j, lower in enumerate(lines)
            if j != i and (d := _distance(upper, lower)) is not None and d > 1
        ]
        if options:
            d, j = min(options)
            below[i] = (j, d)
    has_upper = {j for j, _ in below.values()}
    staves, used = [], set()
    for start in (i for i in range(len(lines)) if i not in has_upper):
        chain, steps, i = [start], [], start
        while i in below and len(chain) < len(lines):
            i, d = below[i]
            chain.append(i)
            steps.append(d)
        k = 0
        while k + 5 <= len(chain):
            local = steps[k : k + 4]
            space = float(np.median(local))
            members = chain[k : k + 5]
            if all(abs(d - space) <= 0.35 * space for d in local) and not used & set(members):
                staves.append(Staff([lines[j] for j in members], space))
                used.update(members)
                k += 5
            else:
                k += 1
    return sorted(staves, key=lambda staff: staff.top)


def _same_system(upper: Staff, lower: Staff, symbols: np.ndarray) -> bool:
    top, bottom = int(upper.bottom) + 2, int(lower.top) - 2
    if bottom <= top:
        return True
    x0, x1 = int(max(upper.x0, lower.x0)), int(min(upper.x1, lower.x1))
    if x1 <= x0:
        return False
    bridged = symbols[top:bottom, x0:x1].all(axis=0)
    return int(bridged.sum()) >= 2


def staff_shapes(staves: list[Staff], step: float) -> list[tuple[list, list]]:
    """Polygon and baseline (page pixels) of each staff."""
    shapes = []
    for staff in staves:
        neighbours = [
            (o.top, o.bottom)
            for o in staves
            if o is not staff and o.x1 > staff.x0 and o.x0 < staff.x1
        ]
        above, below = staff_margins(staff.top, staff.bottom, staff.space, neighbours)
        xs = [*np.arange(staff.x0, staff.x1, step), staff.x1]
        top = [(x, staff.lines[0].y_at(x) - above) for x in xs]
        bottom = [(x, staff.lines[-1].y_at(x) + below) for x in reversed(xs)]
        baseline = [(x, staff.lines[-1].y_at(x)) for x in xs]
        shapes.append((top + bottom, baseline))
    return shapes


def text_lines(text: np.ndarray, min_height: int, word_gap: float) -> list[tuple[list, list]]:
    """Polygon (box) and baseline of each text line in a text mask.

    The smear bridges gaps up to ``word_gap`` times the median height of the mask's
    connected components (about the letter height), so a line is not split at its
    word spaces whatever the resolution, and never less than twice ``min_height``.
    Marks under half a letter high (i dots, accents, underlines) join the nearest
    line they overlap in x, when it is less than half a letter away.
    """
    import cv2

    if not text.any():
        return []
    mask = text.view(np.uint8)
    _, _, parts, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    letter = float(np.median(parts[1:, cv2.CC_STAT_HEIGHT]))
    width = max(3, 2 * min_height, round(word_gap * letter))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        cv2.dilate(mask, np.ones((1, width), np.uint8)), connectivity=8
    )
    boxes = {i: [int(v) for v in stats[i, :4]] for i in range(1, count)}
    marks = [i for i, (_, _, _, h) in boxes.items() if h < letter / 2]
    for i in marks:
        x, y, w, h = boxes[i]
        gaps = {
            j: max(ly - (y + h), y - (ly + lh), 0)
            for j, (lx, ly, lw, lh) in boxes.items()
            if lh >= letter / 2 and lx < x + w and x < lx + lw
        }
        near = [j for j, gap in gaps.items() if gap <= letter / 2]
        if near:
            line = boxes[min(near, key=lambda j: (gaps[j], abs(boxes[j][1] - y)))]
            bottom = line[1] + line[3]
            line[0], line[1] = min(line[0], x), min(line[1], y)
            line[2] = max(line[0] + line[2], x + w) - line[0]
            line[3] = bottom - line[1]
            del boxes[i]
    lines = []
    for i, (x, y, w, h) in boxes.items():
        if h < min_height or w < 2 * min_height:
            continue
        ink = text[y : y + h, x : x + w] & (labels[y : y + h, x : x + w] == i)
        profile = ink.sum(axis=1)
        rows = np.flatnonzero(profile >= 0.35 * profile.max())
        base = y + int(rows[-1]) if len(rows) else y + h - 1
        lines.append(
            (
                [(x, y), (x + w - 1, y), (x + w - 1, y + h - 1), (x, y + h - 1)],
                [(x, base), (x + w - 1, base)],
            )
        )
    return sorted(lines, key=lambda line: (line[1][0][1], line[1][0][0]))


def extract_page(layers_dir: Path, image: Path, pages: Path, config: ExtractConfig) -> None:
    """Write ``pages/<stem>.xml`` from ``layers_dir`` (one folder per page)."""
    from quire.pagexml import PageDocument

    masks = {}
    for name in (config.staff_layer, config.symbols_layer, config.text_layer):
        path = layers_dir / f"{name}.png"
        masks[name] = read_layer(path) if path.exists() else None
    present = [m for m in masks.values() if m is not None]
    if not present:
        raise InputError(layers_dir, "none of the configured layers is there")
    height, width = present[0].shape
    if any(m.shape != (height, width) for m in present):
        raise InputError(layers_dir, "layers differ in size")
    doc = PageDocument.new(image.name, width, height)
    order = []
    staff = masks[config.staff_layer]
    if staff is not None and staff.any():
        strip = max(8, width // config.strips)
        tracks = find_tracks(staff, strip, int(config.min_line_length * width / 4))
        staves = group_staves(tracks, config.min_line_length * width, width / 10)
        symbols = masks[config.symbols_layer]
        systems: list[list[int]] = []
        for k, current in enumerate(staves):
            if systems and symbols is not None and _same_system(staves[k - 1], current, symbols):
                systems[-1].append(k)
            else:
                systems.append([k])
        shapes = staff_shapes(staves, strip)
        for s, members in enumerate(systems, start=1):
            corners = np.array([p for k in members for p in shapes[k][0]])
            (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
            region = doc.page.add_region(
                "TextRegion",
                f"system_{s}",
                [(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
                custom=[("structure", {"type": "music"})],
            )
            for n, k in enumerate(members, start=1):
                region.add_text_line(
                    f"system_{s}_staff_{n}",
                    shapes[k][0],
                    shapes[k][1],
                    custom=[("structure", {"type": "staff"})],
                )
            order.append((y0, region.id))
    text = masks[config.text_layer]
    if text is not None:
        for n, (polygon, baseline) in enumerate(
            text_lines(text, config.min_text_height, config.word_gap), 1
        ):
            region = doc.page.add_region(
                "TextRegion", f"text_{n}", polygon, custom=[("structure", {"type": "text"})]
            )
            region.add_text_line(f"text_{n}_line_1", polygon, baseline)
            order.append((polygon[0][1], region.id))
    doc.set_reading_order([rid for _, rid in sorted(order)])
    doc.add_processing_step("extract", parameters=config.model_dump())
    doc.write(pages / f"{image.stem}.xml")


def extract(images: Path, work: Path, config: ExtractConfig) -> BatchResult:
    """PageXML for every image of ``images`` from ``work/layers/<stem>/``."""
    from quire.io import list_images

    paths = [images] if images.is_file() else list_images(images)

    def one(path: Path) -> None:
        folder = work / "layers" / path.stem
        if not folder.is_dir():
            raise InputError(path, f"no layers in {folder} (run quire layout predict first)")
        extract_page(folder, path, work / "page", config)

    return run_batch(paths, one, description="extract", name=str, noun="page")
