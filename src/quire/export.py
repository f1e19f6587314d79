"""quire export: pages to **kern, MusicXML, MIDI and MEI, plain text, and overlay pictures.

Music: the staves of a page, systems in reading order and staves top to bottom,
become one **kern score (:mod:`quire.music.score`); Verovio turns it into MEI and
MIDI, music21 into MusicXML. The staves of each system are first made to agree
(:mod:`quire.music.fit`): what was changed on a staff is named in one line, listed
in ``index.html`` and drawn on the overlay. A staff that does not parse in its
encoding is named in one line and rests in the measures of its system.

Text: the text lines of a page in reading order, one per line, a blank line between
regions. Overlays: the page with regions, lines or staves and their transcriptions
drawn on it, and ``index.html`` to browse them with the exports.

Everything goes to ``WORK/export/``: ``<stem>.krn``, ``.musicxml``, ``.mid``,
``.mei``, ``.txt``, ``overlays/<stem>.png`` and ``index.html``.
"""

from __future__ import annotations

import base64
import html
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from quire.batch import BatchResult, run_batch
from quire.config import ExportConfig
from quire.errors import InputError
from quire.io import atomic_save_image, atomic_write_bytes, atomic_write_text, find_image
from quire.pagexml import PageDocument, TextLine, now
from quire.workdir import page_files

log = logging.getLogger("quire")

MUSIC_SUFFIXES = {"kern": ".krn", "musicxml": ".musicxml", "midi": ".mid", "mei": ".mei"}
# Outline colours of the overlay (RGBA): music systems, text regions, staves, text
# lines, staves changed to agree with their system.
COLOURS = {
    "music": (0, 114, 178, 255),
    "region": (230, 159, 0, 255),
    "staff": (0, 158, 115, 255),
    "line": (213, 94, 0, 255),
    "changed": (204, 0, 102, 255),
}


@dataclass
class PageExport:
    """What one page exported: file names by format, counts and the staves that failed."""

    stem: str
    files: dict[str, str] = field(default_factory=dict)
    staves: int = 0
    lines: int = 0
    failed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # by staff id


def numbered_ids(xml: bytes) -> bytes:
    """music21 names a part or instrument that has no id P or I and an md5 of the clock:
    number them in order of first use instead (P1, P2, ...; I1, I2, ...)."""
    ids: dict[bytes, bytes] = {}

    def number(found: re.Match[bytes]) -> bytes:
        old = found[0]
        if old not in ids:
            kind = old[:1]
            ids[old] = kind + str(sum(k[:1] == kind for k in ids) + 1).encode()
        return ids[old]

    return re.sub(rb"\b[PI][0-9a-f]{32}\b", number, xml)


def write_music(kern: str, out: Path, stem: str, formats: list[str]) -> dict[str, str]:
    """Write the score in every music format asked for; their file names by format."""
    import verovio

    written = {}
    if "kern" in formats:
        atomic_write_text(out / f"{stem}.krn", kern)
    toolkit = verovio.toolkit()
    # xml:ids from Verovio's process-wide generator, which loadData seeds with the CRC32
    # of the score: a function of the page, whatever was exported before it
    toolkit.setOptions({"inputFrom": "humdrum", "xmlIdChecksum": True})
    if not toolkit.loadData(kern):
        raise InputError(out / f"{stem}.krn", "Verovio cannot read the page's score")
    # MEI and MusicXML are dated like the PageXML (SOURCE_DATE_EPOCH), not by the clock
    if "mei" in formats:
        mei = re.sub(r'isodate="[^"]*"', f'isodate="{now()}"', toolkit.getMEI(), count=1)
        atomic_write_text(out / f"{stem}.mei", mei)
    if "midi" in formats:
        atomic_write_bytes(out / f"{stem}.mid", base64.b64decode(toolkit.renderToMIDI()))
    if "musicxml" in formats:
        import music21

        score = music21.converter.parse(kern, format="humdrum")
        exporter = music21.musicxml.m21ToXml.GeneralObjectExporter(score)
        xml = re.sub(
            rb"<encoding-date>[^<]*</encoding-date>",
            f"<encoding-date>{now()[:10]}</encoding-date>".encode(),
            exporter.parse(),
            count=1,
        )
        atomic_write_bytes(out / f"{stem}.musicxml", numbered_ids(xml))
    for name in formats:
        if name in MUSIC_SUFFIXES:
            written[name] = f"{stem}{MUSIC_SUFFIXES[name]}"
    return written


def page_text(doc: PageDocument) -> tuple[str, int]:
    """The text lines of a page in reading order, regions apart; and how many lines."""
    blocks, count = [], 0
    for region in doc.regions_in_order():
        lines = [line.text or "" for line in region.text_lines() if not line.is_staff]
        count += len(lines)
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else ""), count


def draw_overlay(
    doc: PageDocument,
    image_path: Path,
    path: Path,
    config: ExportConfig,
    changed: dict[str, list[str]] | None = None,
) -> None:
    """The page image, faded, with regions, lines and their transcriptions on it; the
    staves ``changed`` to agree with their system in their own colour, with the
    changes under them."""
    from PIL import Image, ImageDraw, ImageFont

    from quire.io import read_image

    page = read_image(image_path, "RGB").convert("RGBA")
    page = Image.blend(page, Image.new("RGBA", page.size, (255, 255, 255, 255)), 0.4)
    draw = ImageDraw.Draw(page)
    size = max(10, round(page.height / 150))
    font = ImageFont.load_default(size=size)
    width = max(1, round(page.height / 800))
    for region in doc.regions_in_order():
        kind = (
            "music" if (region.custom_get("structure") or {}).get("type") == "music" else "region"
        )
        _outline(draw, region.coords, COLOURS[kind], width * 2)
        for line in region.text_lines():
            _draw_line(draw, line, font, width, size, (changed or {}).get(line.id, []))
    page = page.convert("RGB")
    if config.overlay_width and page.width > config.overlay_width:
        height = round(page.height * config.overlay_width / page.width)
        page = page.resize((config.overlay_width, height), Image.Resampling.LANCZOS)
    atomic_save_image(path, page)


def _outline(draw: object, points: list[tuple[int, int]], colour: tuple, width: int) -> None:
    if len(points) >= 2:
        draw.line([*points, points[0]], fill=colour, width=width)  # type: ignore[attr-defined]


def _draw_line(
    draw: object, line: TextLine, font: object, width: int, size: int, changes: list[str]
) -> None:
    colour = COLOURS["changed" if changes else "staff" if line.is_staff else "line"]
    _outline(draw, line.coords, colour, width)
    if len(line.baseline) >= 2:
        draw.line(line.baseline, fill=colour, width=width)  # type: ignore[attr-defined]
    if line.coords:
        x = min(x for x, _ in line.coords)
        y = min(y for _, y in line.coords) - size - 2
        if line.text:
            draw.text((x, max(0, y)), line.text, fill=colour, font=font)  # type: ignore[attr-defined]
        below = max(y for _, y in line.coords) + 2
        for k, change in enumerate(changes):
            at = (x, below + k * (size + 2))
            draw.text(at, f"changed: {change}", fill=colour, font=font)  # type: ignore[attr-defined]


def export_page(xml: Path, images: Path | None, out: Path, config: ExportConfig) -> PageExport:
    """Export one page in every format of ``config``."""
    from quire.music.kern import KernError
    from quire.music.page import page_staves
    from quire.music.score import page_kern

    doc = PageDocument.read(xml)
    report = PageExport(xml.stem)
    systems, report.changed, report.failed = page_staves(doc)
    report.staves = sum(len(system) for system in systems)
    music = [name for name in config.formats if name in MUSIC_SUFFIXES]
    if music and any(staff for system in systems for staff in system):
        try:
            report.files.update(write_music(page_kern(systems), out, xml.stem, music))
        except KernError as exc:
            raise InputError(xml, f"no score: {exc}") from None
    text, report.lines = page_text(doc)
    if "text" in config.formats and report.lines:
        atomic_write_text(out / f"{xml.stem}.txt", text)
        report.files["text"] = f"{xml.stem}.txt"
    if "overlay" in config.formats and images is not None:
        image = find_image(images, xml.stem, doc.page.image_filename)
        draw_overlay(doc, image, out / "overlays" / f"{xml.stem}.png", config, report.changed)
        report.files["overlay"] = f"overlays/{xml.stem}.png"
    for problem in report.failed:
        log.error("%s: %s", xml, problem)
    for staff, changes in report.changed.items():
        for change in changes:
            log.warning("%s: staff %s changed to agree with its system: %s", xml, staff, change)
    return report


def write_index(reports: list[PageExport], out: Path) -> None:
    """A static HTML page listing every page with its overlay and exports."""
    rows = []
    for report in reports:
        picture = report.files.get("overlay")
        cell = (
            f'<a href="{html.escape(picture)}"><img src="{html.escape(picture)}" width="240"></a>'
            if picture
            else ""
        )
        links = " ".join(
            f'<a href="{html.escape(name)}">{html.escape(kind)}</a>'
            for kind, name in report.files.items()
            if kind != "overlay"
        )
        changed = [
            f"staff {staff} changed: {c}" for staff, cs in report.changed.items() for c in cs
        ]
        problems = "<br>".join(html.escape(p) for p in report.failed + changed)
        rows.append(
            f"<tr><td>{html.escape(report.stem)}</td><td>{cell}</td><td>{report.staves}</td>"
            f"<td>{report.lines}</td><td>{links}</td><td>{problems}</td></tr>"
        )
    atomic_write_text(
        out / "index.html",
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>quire export</title>'
        "<style>body{font-family:sans-serif}td{vertical-align:top;padding:4px 8px}"
        "tr:nth-child(even){background:#f4f4f4}</style></head><body>\n"
        f"<h1>quire export: {len(reports)} pages</h1>\n<table>\n"
        "<tr><th>page</th><th>overlay</th><th>staves</th><th>text lines</th>"
        "<th>files</th><th>problems</th></tr>\n" + "\n".join(rows) + "\n</table></body></html>\n",
    )


def export(images: Path | None, work: Path, config: ExportConfig) -> BatchResult:
    """Export every page of ``work/page/`` into ``work/export/``."""
    out = work / "export"
    reports: list[PageExport] = []
    result = run_batch(
        page_files(work),
        lambda xml: export_page(xml, images, out, config),
        description="export",
        noun="page",
        collect=lambda _, report: reports.append(report),
    )
    result.problems += [f"{r.stem}: {p}" for r in reports for p in r.failed]
    if "overlay" in config.formats:
        write_index(reports, out)
    return result
