"""quire cut: line and staff snippets along the polygons of PageXML.

Every ``TextLine`` of ``WORK/page/<stem>.xml`` becomes
``WORK/snippets/<stem>/<stem>-<line id>.png``: the line's polygon cut from the
page in grayscale, turned so that its baseline is level (deskew), and white
outside the polygon (mask). Staves (``structure {type:staff;}``) and text lines
go to separate lists, as recognizers for them differ:

- ``WORK/lists/staves.txt``, ``WORK/lists/lines.txt``: every snippet (path only),
  what ``quire recognize predict`` reads;
- ``WORK/lists/staves-gt.txt``, ``WORK/lists/lines-gt.txt``: the snippets whose
  line has a transcription, as ``path<TAB>text``, what ``quire recognize train``
  reads.

Paths in lists are relative to the lists' folder.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from quire.batch import BatchResult, run_batch
from quire.config import CutConfig
from quire.errors import InputError
from quire.io import IMAGE_SUFFIXES, atomic_write_text

KINDS = ("staves", "lines")


def level_angle(baseline: np.ndarray) -> float:
    """The slope of a baseline in degrees (least squares), 0 when it has no length."""
    if len(baseline) < 2 or np.ptp(baseline[:, 0]) == 0:
        return 0.0
    slope = np.polyfit(baseline[:, 0], baseline[:, 1], 1)[0]
    return math.degrees(math.atan(slope))


def cut_line(
    gray: np.ndarray, polygon: np.ndarray, angle: float = 0.0, mask: bool = True
) -> np.ndarray:
    """The ``polygon`` of ``gray`` turned by ``angle`` degrees about its centre, white outside
    it when ``mask``."""
    import cv2

    matrix = cv2.getRotationMatrix2D(tuple(map(float, polygon.mean(0))), angle, 1.0)
    turned = cv2.transform(polygon[None].astype(np.float64), matrix)[0]
    x0, y0 = np.floor(turned.min(0)).astype(int)
    x1, y1 = np.ceil(turned.max(0)).astype(int)
    matrix[:, 2] -= (x0, y0)
    size = (max(1, x1 - x0), max(1, y1 - y0))
    out = cv2.warpAffine(gray, matrix, size, flags=cv2.INTER_LINEAR, borderValue=255)
    if mask:
        inside = np.zeros(out.shape, np.uint8)
        cv2.fillPoly(inside, [np.round(turned - (x0, y0)).astype(np.int32)], 1)
        out[inside == 0] = 255
    return out


def find_image(images: Path, stem: str, filename: str | None) -> Path:
    """The page image: ``Page@imageFilename`` in ``images``, else ``<stem>.*``."""
    if images.is_file():
        return images
    if filename and (images / Path(filename).name).is_file():
        return images / Path(filename).name
    for suffix in IMAGE_SUFFIXES:
        for candidate in (images / f"{stem}{suffix}", images / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    raise InputError(images / stem, "no page image of this name")


def cut_page(
    xml: Path, images: Path, work: Path, config: CutConfig
) -> dict[str, list[tuple[Path, str | None]]]:
    """Write the snippets of one page; per kind, their paths and transcriptions."""
    from PIL import Image

    from quire.io import atomic_save_image, read_image
    from quire.pagexml import PageDocument

    doc = PageDocument.read(xml)
    stem = xml.stem
    gray = np.asarray(read_image(find_image(images, stem, doc.page.image_filename), "L"))
    folder = work / "snippets" / stem
    found: dict[str, list[tuple[Path, str | None]]] = {kind: [] for kind in KINDS}
    for line in doc.text_lines():
        polygon = np.asarray(line.coords, float)
        if len(polygon) < 3:
            continue  # no area to cut (a reader of other tools' files meets these)
        baseline = np.asarray(line.baseline, float)
        angle = level_angle(baseline) if config.deskew and len(baseline) else 0.0
        snippet = cut_line(gray, polygon, angle, config.mask)
        if snippet.shape[0] < config.min_height:
            continue
        path = folder / f"{stem}-{line.id}.png"
        folder.mkdir(parents=True, exist_ok=True)
        atomic_save_image(path, Image.fromarray(snippet))
        structure = line.custom_get("structure") or {}
        kind = "staves" if structure.get("type") == "staff" else "lines"
        text = line.text
        found[kind].append((path, " ".join(text.split()) if text and text.strip() else None))
    return found


def cut(images: Path, work: Path, config: CutConfig) -> BatchResult:
    """Cut every page of ``work/page/`` and write the lists."""
    pages = sorted((work / "page").glob("*.xml"))
    if not pages:
        raise InputError(work / "page", "no PageXML files")
    found: dict[str, list[tuple[Path, str | None]]] = {kind: [] for kind in KINDS}

    def one(xml: Path) -> None:
        for kind, rows in cut_page(xml, images, work, config).items():
            found[kind].extend(rows)

    result = run_batch(pages, one, description="cut", name=str, noun="page")
    lists = work / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    for kind, rows in found.items():
        names = [(os.path.relpath(path, lists), text) for path, text in rows]
        atomic_write_text(lists / f"{kind}.txt", "".join(f"{name}\n" for name, _ in names))
        atomic_write_text(
            lists / f"{kind}-gt.txt",
            "".join(f"{name}\t{text}\n" for name, text in names if text is not None),
        )
    return result
