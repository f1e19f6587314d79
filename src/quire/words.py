"""quire words: text lines split into ``Word`` elements with coordinates.

A word's place along its line comes from the recognizer when its tokens file is
given (``quire recognize predict --token-confidences`` writes, per character, the
share of the snippet's width it was read in), else from the characters' share of
the text (every character equally wide, as Loghi interpolates). That span is
mapped from the levelled snippet back onto the page through the line's polygon and
baseline angle, as ``quire cut`` turned it, so a word's polygon follows a slanted
line; the recognizer's spans with the deskew and padding that cut recorded. Words
get ``TextEquiv`` with the mean confidence of their characters (else the line's).
Staves are left alone; a line's old words are replaced.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from quire.batch import BatchResult
from quire.errors import InputError
from quire.geometry import level_angle, levelling, snippet_bounds
from quire.pagexml import PageDocument, TextLine
from quire.workdir import edit_pages, snippet_geometry

log = logging.getLogger("quire")

Span = tuple[float, float]


def read_tokens(path: Path) -> dict[str, tuple[list[float], list[Span]]]:
    """A tokens file (path, confidences, spans) keyed by snippet stem."""
    rows = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read tokens ({exc})") from None
    for number, line in enumerate(lines, 1):
        fields = line.split("\t")
        try:
            confidences = [float(c) for c in fields[1].split()]
            spans = [tuple(map(float, s.split(":"))) for s in fields[2].split()]
        except (IndexError, ValueError):
            raise InputError(
                path, f"line {number}: expected path<TAB>confidences<TAB>spans"
            ) from None
        rows[Path(fields[0]).stem] = (confidences, spans)  # type: ignore[assignment]
    return rows


def even_spans(text: str) -> list[Span]:
    """Every character of ``text`` equally wide along the line."""
    count = max(1, len(text))
    return [(i / count, (i + 1) / count) for i in range(len(text))]


def clip_band(polygon: np.ndarray, left: float, right: float) -> np.ndarray:
    """The part of ``polygon`` between two verticals (Sutherland–Hodgman)."""
    points = list(map(tuple, polygon))
    for edge, inside in ((left, lambda x: x >= left), (right, lambda x: x <= right)):
        clipped = []
        for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
            if inside(x0):
                clipped.append((x0, y0))
            if inside(x0) != inside(x1):
                clipped.append((edge, y0 + (y1 - y0) * (edge - x0) / (x1 - x0)))
        points = clipped
        if not points:
            break
    return np.asarray(points, float).reshape(-1, 2)


def split_line(
    line: TextLine,
    spans: list[Span],
    confidences: list[float] | None,
    deskew: bool = True,
    padding: int = 0,
) -> list[tuple[str, list[tuple[float, float]], float | None]]:
    """The words of a line: text, polygon on the page (the part of the line's polygon
    the word lies in), confidence. ``spans`` are shares of the snippet's width, cut
    with ``deskew`` and ``padding``."""
    import cv2

    baseline = np.asarray(line.baseline, float)
    angle = level_angle(baseline) if deskew else 0.0
    matrix, turned = levelling(np.asarray(line.coords, float), angle)
    back = cv2.invertAffineTransform(matrix)
    left, _, right, _ = snippet_bounds(turned)
    x0, x1 = left - padding, right + padding
    text = line.text or ""
    out = []
    for match in re.finditer(r"\S+", text):
        a, b = spans[match.start()][0], spans[match.end() - 1][1]
        part = clip_band(turned, x0 + a * (x1 - x0), x0 + b * (x1 - x0))
        if len(part) < 3:
            continue
        polygon = cv2.transform(part[None], back)[0]
        conf = (
            float(np.mean(confidences[match.start() : match.end()])) if confidences else line.conf
        )
        out.append((match.group(0), [tuple(p) for p in polygon], conf))
    return out


def words(work: Path, tokens: Path | None = None) -> BatchResult:
    """Split the text lines of every page of ``work/page/`` into words."""
    positions = read_tokens(tokens) if tokens else {}
    cut_geometry = snippet_geometry(work)
    placed = {"recognizer": 0, "interpolated": 0}

    def edit(doc: PageDocument) -> bool:
        stem = doc.path.stem if doc.path else doc.stem
        changed = False
        for line in doc.text_lines():
            text = line.text
            if line.is_staff or not text or len(line.coords) < 3:
                continue
            confidences, spans = positions.get(f"{stem}-{line.id}", (None, None))
            geometry = cut_geometry
            if spans is None or len(spans) != len(text):
                confidences, spans = None, even_spans(text)
                geometry = (True, 0)  # along the line itself
                placed["interpolated"] += 1
            else:
                placed["recognizer"] += 1
            line.clear_words()
            for n, (word, polygon, conf) in enumerate(
                split_line(line, spans, confidences, *geometry)
            ):
                line.add_word(f"{line.id}_w{n}", polygon, word, conf)
            changed = True
        if changed:
            doc.add_processing_step("words", parameters={"tokens": tokens.name if tokens else None})
        return changed

    result = edit_pages(work, edit, "words")
    log.info(
        "words placed on %d lines by the recognizer, %d interpolated",
        placed["recognizer"],
        placed["interpolated"],
    )
    return result
