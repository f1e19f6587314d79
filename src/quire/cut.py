"""quire cut: line and staff snippets along the polygons of PageXML.

Every ``TextLine`` of ``WORK/page/<stem>.xml`` (or of ``--pages``) becomes
``WORK/snippets/<stem>/<stem>-<line id>.png``: the line's polygon cut from the
page, turned so that its baseline is level (deskew), and white outside the polygon
(mask) in grayscale, or transparent outside it in RGBA (``fill: alpha``, Loghi's
4-channel snippets); optionally padded and scaled to a fixed height. Staves
(``structure {type:staff;}``) and text lines go to separate lists, as recognizers
for them differ:

- ``WORK/lists/staves.txt``, ``WORK/lists/lines.txt``: every snippet (path only),
  what ``quire recognize predict`` reads;
- ``WORK/lists/staves-gt.txt``, ``WORK/lists/lines-gt.txt``: the snippets whose
  line is ground truth, as ``path<TAB>text`` (``path<TAB>weight<TAB>text`` with
  ``weights``, the weight being ``TextEquiv@conf``), what ``quire recognize train``
  reads. Left out, with a count: empty lines, lines tagged ``unclear`` in
  ``custom``, lines whose ``@conf`` lies outside the confidence bounds (a line
  without ``@conf`` is taken as checked by a person).

Paths in lists are relative to the lists' folder. ``WORK/snippets/cut.json``
records how the snippets were cut (deskew, padding), so that ``quire words`` maps
positions in a snippet back onto the page as they were cut.
"""

from __future__ import annotations

import functools
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quire.batch import BatchResult, run_batch
from quire.config import CutConfig
from quire.errors import InputError
from quire.geometry import level_angle, levelling, snippet_bounds
from quire.io import atomic_write_text, find_image
from quire.pagexml import unreadable_points
from quire.workdir import id_problem, page_files, snippet_path, write_snippet_geometry

if TYPE_CHECKING:
    from quire.pagexml import TextLine

log = logging.getLogger("quire")

KINDS = ("staves", "lines")


def cut_line(
    image: np.ndarray, polygon: np.ndarray, angle: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The ``polygon`` of ``image`` (gray or RGB) turned by ``angle`` degrees about its
    centre, and the mask of what lies inside the polygon."""
    import cv2

    matrix, turned = levelling(polygon, angle)
    x0, y0, x1, y1 = snippet_bounds(turned)
    matrix[:, 2] -= (x0, y0)
    size = (max(1, x1 - x0), max(1, y1 - y0))
    white = (255,) * (image.shape[2] if image.ndim == 3 else 1)
    out = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderValue=white)
    inside = np.zeros(out.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(turned - (x0, y0)).astype(np.int32)], 1)
    return out, inside.astype(bool)


def finish_snippet(pixels: np.ndarray, inside: np.ndarray, config: CutConfig) -> np.ndarray:
    """Mask (white, or transparent as a 4th channel), pad and scale a cut line."""
    import cv2

    if config.fill == "alpha":
        alpha = (inside if config.mask else np.ones_like(inside)).astype(np.uint8) * 255
        pixels = np.dstack([pixels, alpha])
        border: tuple[int, ...] = (255, 255, 255, 0)
    else:
        pixels = pixels.copy()
        if config.mask:
            pixels[~inside] = 255
        border = (255,)
    if config.padding:
        pad = config.padding
        pixels = cv2.copyMakeBorder(pixels, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=border)
    if config.height and pixels.shape[0] != config.height:
        width = max(1, round(pixels.shape[1] * config.height / pixels.shape[0]))
        shrink = pixels.shape[0] > config.height
        pixels = cv2.resize(
            pixels,
            (width, config.height),
            interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
        )
    return pixels


@dataclass
class Snippet:
    """A snippet written by cut: its path, kind, transcription and why it is no ground truth."""

    path: Path
    kind: str
    text: str | None
    conf: float | None
    left_out: str | None = None  # empty, unclear, confidence


@dataclass
class PageCut:
    """What cut made of one page: its snippets, and one message per line it refused."""

    snippets: list[Snippet] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _ground_truth(line: TextLine, config: CutConfig) -> tuple[str | None, str | None]:
    """A line's one-line transcription, or why it is no ground truth."""
    text = " ".join(((line.styled_text if config.style_markers else line.text) or "").split())
    if not text:
        return None, "empty"
    if any(key == "unclear" for key, _ in line.custom):
        return text, "unclear"
    conf = line.conf
    if conf is not None and not config.min_confidence <= conf <= config.max_confidence:
        return text, "confidence"
    return text, None


def line_problem(line: TextLine, polygon: np.ndarray, stem: str, seen: set[str]) -> str | None:
    """Why a line of page ``stem`` with ``polygon`` cannot be cut, or ``None``: an id that
    is no plain XML id, too long for a file name or repeated, a polygon that is
    unreadable or has no area, a confidence that is no number."""
    import cv2

    if problem := id_problem(line.id, stem, seen):
        return problem
    if unreadable := unreadable_points(line.coords_text):
        return f"line {line.id}: unreadable polygon points ({unreadable!r})"
    if len(polygon) < 3:
        return f"line {line.id}: a polygon needs 3 points, it has {len(polygon)}"
    if min(cv2.minAreaRect(polygon.astype(np.float32))[1]) < 1:
        return f"line {line.id}: the polygon has no area (its points are on one line)"
    try:
        line.conf  # noqa: B018 - read to check it
    except ValueError:
        return f"line {line.id}: TextEquiv@conf is not a number"
    return None


def cut_page(xml: Path, images: Path, work: Path, config: CutConfig) -> PageCut:
    """Write the snippets of one page (a module-level function: it runs in workers too)."""
    from PIL import Image

    from quire.io import atomic_save_image, read_image
    from quire.pagexml import PageDocument

    doc = PageDocument.read(xml)
    stem = xml.stem
    mode = "RGB" if config.fill == "alpha" else "L"
    page = np.asarray(read_image(find_image(images, stem, doc.page.image_filename), mode))
    cut = PageCut()
    seen: set[str] = set()
    for line in doc.text_lines():
        polygon = np.asarray(line.coords, float)
        if problem := line_problem(line, polygon, stem, seen):
            cut.problems.append(f"{xml}: {problem}")
            continue
        path = snippet_path(work, stem, line.id)
        baseline = np.asarray(line.baseline, float)
        angle = level_angle(baseline) if config.deskew else 0.0
        pixels, inside = cut_line(page, polygon, angle)
        if pixels.shape[0] < config.min_height:
            log.info("%s: line %s is lower than min_height, not cut", xml, line.id)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save_image(path, Image.fromarray(finish_snippet(pixels, inside, config)))
        text, left_out = _ground_truth(line, config)
        kind = "staves" if line.is_staff else "lines"
        cut.snippets.append(Snippet(path, kind, text, line.conf, left_out))
    return cut


def cut(images: Path, work: Path, config: CutConfig, pages: Path | None = None) -> BatchResult:
    """Cut every page of ``pages`` (default ``work/page/``) and write the lists."""
    files = page_files(work) if pages is None else sorted(pages.glob("*.xml"))
    if not files:
        raise InputError(pages or work / "page", "no PageXML files")
    found: list[Snippet] = []
    problems: list[str] = []

    def collect(_: Path, page: PageCut) -> None:
        found.extend(page.snippets)
        problems.extend(page.problems)
        for problem in page.problems:
            log.error("%s", problem)

    write_snippet_geometry(work, config.deskew, config.padding)
    result = run_batch(
        files,
        functools.partial(cut_page, images=images, work=work, config=config),
        description="cut",
        noun="page",
        workers=config.workers,
        collect=collect,
    )
    result.problems += problems
    lists = work / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        rows = [(os.path.relpath(s.path, lists), s) for s in found if s.kind == kind]
        atomic_write_text(lists / f"{kind}.txt", "".join(f"{name}\n" for name, _ in rows))
        truth = [
            f"{name}\t{_weight(s.conf)}\t{s.text}" if config.weights else f"{name}\t{s.text}"
            for name, s in rows
            if s.left_out is None
        ]
        atomic_write_text(lists / f"{kind}-gt.txt", "".join(f"{row}\n" for row in truth))
        reasons = Counter(s.left_out for _, s in rows if s.left_out)
        if reasons:
            log.info(
                "%s: %d of %d left out of the ground truth: %s",
                kind,
                sum(reasons.values()),
                len(rows),
                ", ".join(f"{n} {why}" for why, n in sorted(reasons.items())),
            )
    return result


def _weight(conf: float | None) -> str:
    return "1" if conf is None else f"{conf:.4g}"
