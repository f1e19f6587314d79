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

Text. Text-layer pixels are smeared over letter gaps into pieces, which are chained
into lines across word spaces, however wide justification makes them, but never
across a gutter between columns (:func:`text_lines`); with the page image, pieces
that are not dark ink on bright paper (scan borders, shadows, the edges of the
book's other leaves) are left out. Lines stacked closely, of one size, form a
block: a text region (:func:`text_blocks`).
"""

from __future__ import annotations

from bisect import bisect_right
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


@dataclass
class _Piece:
    """A run of text ink (a word or a few): box, and its core band (x-height rows)."""

    x0: int
    y0: int
    x1: int
    y1: int
    core: tuple[int, int]  # the rows holding a good share of its ink; the last is its base


def _pieces(text: np.ndarray, min_height: int, word_gap: float) -> tuple[list[_Piece], float]:
    """Text ink smeared over letter gaps into pieces (i dots and accents joined to the
    piece they sit on, lines that touch cut apart), and the letter height (the median
    height of the components bigger than specks of noise)."""
    import cv2

    mask = text.view(np.uint8)
    _, _, parts, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    letters = parts[1:][parts[1:, cv2.CC_STAT_AREA] >= min_height**2 / 4]
    letter = float(np.median((letters if len(letters) else parts[1:])[:, cv2.CC_STAT_HEIGHT]))
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
    tall = 1.6 * float(np.median([h for _, _, _, h in boxes.values()] or [0]))
    pieces = []
    for i, (x, y, w, h) in boxes.items():
        ink = text[y : y + h, x : x + w] & (labels[y : y + h, x : x + w] == i)
        pieces += _split_touching(ink, x, y, tall)
    return pieces, letter


def _split_touching(ink: np.ndarray, x: int, y: int, tall: float) -> list[_Piece]:
    """The piece whose ink is ``ink`` (top left at ``x``, ``y``), or the pieces of lines
    that touch in it (taller than ``tall``, nearly no ink in a row of its middle
    third, a good share of it on either side): cut there, each part split again."""
    profile = ink.sum(axis=1)
    h = len(profile)
    if h > tall and profile.max():
        band = profile[h // 3 : h - h // 3]
        lowest = np.flatnonzero(band == band.min())
        middle = h // 3 + int(lowest[len(lowest) // 2])  # the middle of the emptiest rows
        above = profile[:middle].sum() / profile.sum()
        if profile[middle] <= 0.1 * profile.max() and 0.25 <= above <= 0.75:
            return [
                *_split_touching(ink[:middle], x, y, tall),
                *_split_touching(ink[middle + 1 :], x, y + middle + 1, tall),
            ]
    if not profile.max():
        return []
    inked = np.flatnonzero(profile)
    rows = np.flatnonzero(profile >= 0.35 * profile.max())
    core = (y + int(rows[0]), y + int(rows[-1]))
    return [_Piece(x, y + int(inked[0]), x + ink.shape[1] - 1, y + int(inked[-1]), core)]


def _on_paper(piece: _Piece, gray: np.ndarray, paper: float) -> bool:
    """Whether a piece is ink on paper: bright around it, dark within (not a scan
    border, a shadow or the edges of the book's other leaves)."""
    crop = gray[piece.y0 : piece.y1 + 1, piece.x0 : piece.x1 + 1]
    light, dark = np.percentile(crop, [90, 10])
    return bool(light >= 0.7 * paper and light - dark >= 0.25 * paper)


def _gutter(text: np.ndarray, left: _Piece, right: _Piece, reach: int, width: int) -> bool:
    """Whether the gap between two pieces holds an empty corridor ``width`` columns wide
    that runs on ``reach`` rows above and below them, with text on both sides of it
    there (within ``reach`` columns): a gutter between columns, not a word space."""
    top, bottom = min(left.y0, right.y0), max(left.y1, right.y1)
    y0, y1 = max(0, top - reach), min(text.shape[0], bottom + reach + 1)
    empty = ~text[y0:y1, left.x1 + 1 : right.x0].any(axis=0)
    edges = np.flatnonzero(np.diff(np.r_[0, empty.view(np.int8), 0]))
    starts, ends = edges[::2], edges[1::2]
    if not len(starts) or (ends - starts).max() < width:
        return False
    middle = left.x1 + 1 + (starts + ends)[np.argmax(ends - starts)] // 2
    for band in (text[y0:top], text[bottom + 1 : y1]):
        if (
            band[:, max(0, middle - reach) : middle].any()
            and band[:, middle : middle + reach].any()
        ):
            return True
    return False


def text_lines(
    text: np.ndarray,
    min_height: int,
    word_gap: float,
    line_gap: float = 10.0,
    gray: np.ndarray | None = None,
) -> list[tuple[list, list]]:
    """Polygon and baseline of each text line in a text mask.

    Ink is smeared over gaps up to ``word_gap`` letter heights (the median height of
    the mask's connected components) into pieces; marks under half a letter high (i
    dots, accents) join the piece they sit on. Pieces whose core bands (the rows of
    most ink) overlap by half are chained left to right across gaps of up to
    ``line_gap`` letter heights (justified spacing, words the layer missed), each to
    its nearest neighbour, never across a gutter: an empty corridor a letter wide that
    runs on through the lines above or below with text on both sides. With ``gray`` (the
    page image), pieces that are not dark ink on bright paper are left out. A line's
    polygon follows its pieces, its baseline their bases.
    """
    if not text.any():
        return []
    pieces, letter = _pieces(text, min_height, word_gap)
    if gray is not None:
        paper = float(np.percentile(gray, 90))
        pieces = [p for p in pieces if _on_paper(p, gray, paper)]
    pieces.sort(key=lambda p: p.x0)
    reach, corridor = round(6 * letter), max(2, round(letter))

    def overlap(a: _Piece, b: _Piece) -> bool:
        shared = min(a.core[1], b.core[1]) - max(a.core[0], b.core[0])
        return shared >= 0.5 * min(a.core[1] - a.core[0], b.core[1] - b.core[0])

    starts = [p.x0 for p in pieces]

    def nearest(k: int, step: int) -> int | None:
        """The nearest piece on the right (``step`` 1) or left (-1) in line with ``k``."""
        a = pieces[k]
        if step > 0:
            near = range(bisect_right(starts, a.x1 - letter), len(pieces))
            gap = {j: pieces[j].x0 - a.x1 for j in near}
        else:
            gap = {j: a.x0 - pieces[j].x1 for j in range(bisect_right(starts, a.x0))}
        found = [j for j, g in gap.items() if j != k and -letter < g <= line_gap * letter]
        found = [j for j in found if overlap(a, pieces[j])]
        return min(found, key=lambda j: (gap[j], abs(pieces[j].core[1] - a.core[1])), default=None)

    lines: list[list[int]] = []
    line_of: dict[int, int] = {}
    for k in range(len(pieces)):
        right = nearest(k, 1)
        if k not in line_of:
            line_of[k] = len(lines)
            lines.append([k])
        if (
            right is not None
            and right not in line_of
            and nearest(right, -1) == k
            and not _gutter(text, pieces[k], pieces[right], reach, corridor)
        ):
            line_of[right] = line_of[k]
            lines[line_of[k]].append(right)
    out = []
    for members in lines:
        chain = [pieces[k] for k in members]
        x0, x1 = chain[0].x0, max(p.x1 for p in chain)
        y0, y1 = min(p.y0 for p in chain), max(p.y1 for p in chain)
        if y1 - y0 + 1 < min_height or x1 - x0 + 1 < 2 * min_height:
            continue
        pad = round(letter / 3)  # some paper above and below the ink, as cut lines have
        top = [max(0, p.y0 - pad) for p in chain]
        bottom = [min(text.shape[0] - 1, p.y1 + pad) for p in chain]
        upper = [q for p, y in zip(chain, top, strict=True) for q in ((p.x0, y), (p.x1, y))]
        lower = [
            q
            for p, y in zip(chain[::-1], bottom[::-1], strict=True)
            for q in ((p.x1, y), (p.x0, y))
        ]
        base = [q for p in chain for q in ((p.x0, p.core[1]), (p.x1, p.core[1]))]
        out.append((upper + lower, base))
    return sorted(out, key=lambda line: (line[1][0][1], line[1][0][0]))


def _stacked(upper: np.ndarray, lower: np.ndarray) -> bool:
    """Whether two line boxes (x0, y0, x1, y1) are lines of one block: ``lower`` less
    than half its height below ``upper``, spanning half of it (or it half of
    ``lower``), of a similar height."""
    height = max(lower[3] - lower[1], 1)
    shared = min(upper[2], lower[2]) - max(upper[0], lower[0])
    narrow = min(upper[2] - upper[0], lower[2] - lower[0])
    similar = 2 / 3 < (upper[3] - upper[1]) / height < 3 / 2
    return shared >= 0.5 * narrow and -height / 2 < lower[1] - upper[3] < height / 2 and similar


def text_blocks(lines: list[tuple[list, list]]) -> list[list[int]]:
    """Text lines (top to bottom) grouped into blocks, as paragraphs and columns are: a
    line joins the block of the nearest line above it that it is stacked under."""
    boxes = [np.r_[np.min(polygon, 0), np.max(polygon, 0)] for polygon, _ in lines]
    blocks: list[list[int]] = []
    block_of: list[int] = []
    for k, lower in enumerate(boxes):
        above = [j for j in range(k) if _stacked(boxes[j], lower)]
        if above:
            block_of.append(block_of[max(above, key=lambda j: boxes[j][3])])
            blocks[block_of[k]].append(k)
        else:
            block_of.append(len(blocks))
            blocks.append([k])
    return blocks


def _gray(image: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The page image in grayscale at the layers' size, or None where it cannot be read."""
    import cv2

    gray = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return None
    if gray.shape != shape:
        gray = cv2.resize(gray, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return gray


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
    gray = _gray(image, text.shape) if text is not None and config.paper_only else None
    if text is not None:
        lines = text_lines(text, config.min_text_height, config.word_gap, config.line_gap, gray)
        for n, block in enumerate(text_blocks(lines), 1):
            corners = np.array([p for k in block for p in lines[k][0]])
            (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
            region = doc.page.add_region(
                "TextRegion",
                f"text_{n}",
                [(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
                custom=[("structure", {"type": "text"})],
            )
            for m, k in enumerate(block, 1):
                region.add_text_line(f"text_{n}_line_{m}", *lines[k])
            order.append((y0, region.id))
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
