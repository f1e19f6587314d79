"""Synthetic music pages: **kern → Verovio SVG → raster page, layer masks and PageXML.

One resvg render per page: staff-line paths are drawn red and text blue, so every
ink pixel is labelled by the layer drawn on top of it (staff lines, music symbols,
text), exactly and exclusively, as Pixel.js layers are. The page image is the
rendering's ink on white paper, before any degradation.

Each system becomes a ``TextRegion`` marked ``structure {type:music;}``; each staff
a ``TextLine`` marked ``structure {type:staff;}`` with its polygon, a baseline on
its bottom line and its transcription. Verovio names Humdrum elements by line and
field (``measure-L12``, ``staff-L12F2``), which ties every engraved system back to
the **kern records it shows; a staff keeps its MEI number (1 the top staff) whatever
fields its spine's voices take.
"""

from __future__ import annotations

import io
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quire.batch import BatchResult, run_batch
from quire.config import SynthMusicConfig
from quire.errors import ConfigError, InputError
from quire.geometry import staff_margins
from quire.music.accidentals import to_printed, to_sounding
from quire.music.encodings import encode
from quire.music.kern import KernError, parse_kern, staff_text
from quire.synth.engraving import Transcriber
from quire.synth.generate import MusicStyle, generate_kern
from quire.synth.output import PageGeometry, write_page

log = logging.getLogger("quire")

if TYPE_CHECKING:
    import verovio
    from lxml import etree

MM_PER_INCH = 25.4
TEXT_FONT = "DejaVu Serif"  # Verovio asks for "Times, serif"; resvg has no such default
VEROVIO_STAFF_MM = 7.2  # staff height at Verovio's default unit on a page of 0.1 mm units
_SVG = "{http://www.w3.org/2000/svg}"
_LINE = re.compile(r"M\s*(-?[\d.]+)\s+(-?[\d.]+)\s*L\s*(-?[\d.]+)\s+(-?[\d.]+)")
# Chord symbols' sharps and flats are music-font glyphs no text font has: drawn as ♯ ♭.
_TEXT_GLYPHS = str.maketrans({"\uea66": "\u266f", "\uea64": "\u266d"})
_HIDDEN_METER = re.compile(r'(<meterSig [^>]*sym="(?:common|cut)"[^>]*?) visible="false"')
_EMPTY_MENSUR = re.compile(r'<mensur xml:id="[^"]*" />')
_TRANSLATE = re.compile(r"translate\(\s*(-?[\d.]+)[ ,]+(-?[\d.]+)\s*\)")


@dataclass
class Staff:
    number: int  # the staff's MEI number: 1 for the top staff of a system
    x0: float
    x1: float
    lines: list[float]  # y of the five lines, top to bottom
    text_top: float | None = None  # top of the chord symbols printed over it


@dataclass
class System:
    first_line: int  # first Humdrum line it shows
    staves: list[Staff]


@dataclass
class Rendering:
    ink: np.ndarray  # uint8 coverage 0…255
    kind: np.ndarray  # uint8 per pixel: which ink layer (staff 0, symbols 1, text 2) drew it
    systems: list[System]
    scale: tuple[float, float, float, float]  # sx, sy, tx, ty: pixel = (u + t) * s

    def coverages(self) -> list[np.ndarray]:
        """Ink coverage of each ink layer (staff, symbols, text)."""
        return [np.where(self.kind == k, self.ink, 0).astype(np.uint8) for k in range(3)]


def page_pixels(config: SynthMusicConfig) -> tuple[int, int]:
    return (
        round(config.page_width_mm / MM_PER_INCH * config.dpi),
        round(config.page_height_mm / MM_PER_INCH * config.dpi),
    )


def _toolkit(config: SynthMusicConfig, rng: random.Random) -> verovio.toolkit:
    import verovio

    staff_mm = rng.uniform(config.staff_size_min_mm, config.staff_size_max_mm)
    zoom = VEROVIO_STAFF_MM / staff_mm  # lay out on a larger page, render at paper size
    unit_px = staff_mm / 8 / MM_PER_INCH * config.dpi  # Verovio's unit: half a staff space
    thin = min(0.3, max(0.15, 1.2 / unit_px))  # keep staff lines at least 1.2 px wide
    toolkit = verovio.toolkit()
    toolkit.setOptions(
        {
            "pageWidth": round(config.page_width_mm * 10 * zoom),
            "pageHeight": round(config.page_height_mm * 10 * zoom),
            "adjustPageHeight": False,
            "breaks": "auto",
            "footer": "none",
            "header": "auto",
            "font": rng.choice(config.fonts),
            "scale": 100,
            "staffLineWidth": thin,
            "spacingSystem": rng.randint(6, 16),
            "spacingStaff": rng.randint(6, 12),
            "pageMarginLeft": rng.randint(50, 150),
            "pageMarginRight": rng.randint(50, 150),
            "pageMarginTop": rng.randint(50, 150),
            "pageMarginBottom": rng.randint(50, 150),
            "svgAdditionalAttribute": ["staff@n"],  # data-n: which staff, whatever its fields
        }
    )
    return toolkit


def _load(toolkit: verovio.toolkit, kern: str) -> None:
    """Lay out ``kern``; a meter written as ``*M4/4`` with ``*met(c)`` (or 2/2 with
    ``*met(c|)``) is drawn as its symbol, as engravers draw it (Verovio's Humdrum
    import hides both the count and the symbol)."""
    parse_kern(kern)  # refuse what would crash Verovio (ragged records, spine splits)
    if not toolkit.loadData(kern) or toolkit.getPageCount() < 1:
        log = toolkit.getLog().strip().splitlines()
        raise KernError(f"Verovio cannot lay it out ({log[0] if log else 'no pages'})")
    if "*met(" in kern:
        mei = toolkit.getMEI()
        shown = _HIDDEN_METER.sub(r"\1", mei)
        if shown != mei:
            toolkit.loadData(_EMPTY_MENSUR.sub("", shown))


def _systems(root: etree._Element) -> list[System]:
    systems = []
    for system in root.iter(f"{_SVG}g"):
        if system.get("class") != "system":
            continue
        first_line = None
        staves: dict[int, Staff] = {}
        for group in system.iter(f"{_SVG}g"):
            kind, ident = group.get("class", ""), group.get("id", "")
            if kind == "measure" and first_line is None:
                first_line = int(re.match(r"measure-L(\d+)", ident)[1])
            if kind != "staff" or not group.get("data-n"):
                continue
            lines = [_LINE.match(p.get("d", "")) for p in group.findall(f"{_SVG}path")]
            lines = [m for m in lines if m and m[2] == m[4]]
            if len(lines) != 5:
                continue
            number = int(group.get("data-n"))
            ys = sorted(float(m[2]) for m in lines)
            x0 = min(float(m[1]) for m in lines)
            x1 = max(float(m[3]) for m in lines)
            if number in staves:
                staves[number].x0 = min(staves[number].x0, x0)
                staves[number].x1 = max(staves[number].x1, x1)
            else:
                staves[number] = Staff(number, x0, x1, ys)
        ordered = sorted(staves.values(), key=lambda s: s.lines[0])
        for harm in (g for g in system.iter(f"{_SVG}g") if g.get("class") == "harm"):
            _cover_text(harm, ordered)
        systems.append(System(first_line or 1, ordered))
    return systems


def _cover_text(harm: etree._Element, staves: list[Staff]) -> None:
    """Note how high a chord symbol reaches on the staff it is printed over."""
    for text in harm.iter(f"{_SVG}text"):
        sizes = [float(t.get("font-size", "0px")[:-2]) for t in text.iter() if t.get("font-size")]
        y = float(text.get("y", 0))
        below = [staff for staff in staves if staff.lines[0] > y]
        if below and sizes:
            staff = below[0]
            top = y - 0.8 * max(sizes)
            staff.text_top = top if staff.text_top is None else min(staff.text_top, top)


def engrave(toolkit: verovio.toolkit, page: int) -> etree._Element:
    """Verovio's SVG of ``page`` as a tree, with staff lines red and text blue."""
    from lxml import etree

    root = etree.fromstring(toolkit.renderToSVG(page).encode("utf-8"))
    for group in root.iter(f"{_SVG}g"):
        if group.get("class") == "staff":
            for path in group.findall(f"{_SVG}path"):  # the five lines, not ties drawn here
                if (line := _LINE.match(path.get("d", ""))) and line[2] == line[4]:
                    path.set("style", "stroke:#ff0000")
        elif group.get("class") == "syl":
            for rect in group.iter(f"{_SVG}rect"):
                rect.set("style", "fill:#0000ff;stroke:#0000ff")
    for text in root.iter(f"{_SVG}text"):
        text.set("style", "fill:#0000ff")
        for span in text.iter():
            for part in ("text", "tail"):
                if getattr(span, part):
                    setattr(span, part, getattr(span, part).translate(_TEXT_GLYPHS))
    return root


def render(root: etree._Element, size: tuple[int, int]) -> Rendering:
    """Rasterise an engraved page to ink coverage, exclusive layer labels and geometry."""
    import resvg_py
    from lxml import etree
    from PIL import Image

    inner = next(e for e in root.iter(f"{_SVG}svg") if "definition-scale" in e.get("class", ""))
    vx, vy, vw, vh = (float(v) for v in inner.get("viewBox").split())
    margin = next(e for e in root.iter(f"{_SVG}g") if e.get("class") == "page-margin")
    tx, ty = (float(v) for v in _TRANSLATE.search(margin.get("transform")).groups())
    svg = etree.tostring(root, encoding="unicode")
    png = resvg_py.svg_to_bytes(
        svg_string=svg, width=size[0], height=size[1], serif_family=TEXT_FONT, font_family=TEXT_FONT
    )
    rgba = np.asarray(Image.open(io.BytesIO(bytes(png))).convert("RGBA"))
    height, width = rgba.shape[:2]
    alpha = np.ascontiguousarray(rgba[..., 3])
    red, blue = rgba[..., 0] > 127, rgba[..., 2] > 127
    kind = 1 - (red & ~blue).view(np.uint8) + (blue & ~red).view(np.uint8)
    return Rendering(alpha, kind, _systems(root), (width / vw, height / vh, tx - vx, ty - vy))


def staff_geometry(rendering: Rendering) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Per system, per staff (top to bottom): polygon and baseline in pixels.

    The polygon spans the staff's lines and 2.5 staff spaces above and below,
    never more than half way to the neighbouring staff.
    """
    sx, sy, tx, ty = rendering.scale
    out = []
    all_staves = [s for system in rendering.systems for s in system.staves]
    for system in rendering.systems:
        shapes = []
        for staff in system.staves:
            top, bottom = staff.lines[0], staff.lines[-1]
            space = (bottom - top) / 4
            above, below = staff_margins(
                top,
                bottom,
                space,
                ((o.lines[0], o.lines[-1]) for o in all_staves if o is not staff),
            )
            if staff.text_top is not None:  # chord symbols are part of the staff's text
                ceiling = max(
                    (o.lines[-1] + space for o in all_staves if o.lines[-1] < top), default=-1e9
                )
                above = max(above, top - max(ceiling, staff.text_top - space / 2))
            x0, x1 = (staff.x0 + tx) * sx, (staff.x1 + tx) * sx
            y0, y1 = (top - above + ty) * sy, (bottom + below + ty) * sy
            polygon = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
            base = (bottom + ty) * sy
            shapes.append((polygon, np.array([(x0, base), (x1, base)])))
        out.append(shapes)
    return out


def _transcriptions(
    staves: list[dict[int, list[str]]], systems: list[System], encoding: str
) -> list[list[str]]:
    """Per system, per staff: the encoded text of the tokens engraved on it, its
    accidentals spelt as kern spells them (as sounding; ``n`` where a natural cancels
    the key signature)."""
    return [
        [
            encode(to_sounding(to_printed(staff_text(tokens.get(staff.number, [])))), encoding)
            for staff in system.staves
        ]
        for tokens, system in zip(staves, systems, strict=True)
    ]


def _cut_before(kern: str, stop: int) -> str:
    """The kern before Humdrum line ``stop`` (a system's first line), ended with a final
    barline."""
    lines = kern.splitlines()
    width = len(next(line for line in lines if line.startswith("**")).split("\t"))
    return (
        "\n".join([*lines[: stop - 1], "\t".join(["=="] * width), "\t".join(["*-"] * width)]) + "\n"
    )


def _decorate(kern: str, rng: random.Random, config: SynthMusicConfig) -> str:
    """Add a title and, for one staff, a lyrics spine."""
    from quire.synth.words import random_title, syllables

    lines = kern.splitlines()
    if len(lines[0].split("\t")) == 1 and rng.random() < config.lyrics_chance:
        words = iter(syllables(rng))
        out = []
        for line in lines:
            if line.startswith("**"):
                out.append(f"{line}\t**text")
            elif line.startswith(("*", "=")) or line.startswith("!"):
                out.append(f"{line}\t{line if line.startswith(('=', '*-')) else '*'}")
            else:
                sung = not any(mark in line.split()[0] for mark in "r]_")
                out.append(f"{line}\t{next(words) if sung else '.'}")
        lines = out
    if rng.random() < config.title_chance:
        lines.insert(0, f"!!!OTL: {random_title(rng)}")
    return "\n".join(lines) + "\n"


def _write(
    output: Path,
    stem: str,
    rendering: Rendering,
    staves: list[dict[int, list[str]]],
    kern: str,
    config: SynthMusicConfig,
    seed: int,
    parameters: dict[str, object],
) -> None:
    """Degrade and write one rendered page, ``staves`` its systems' engraved tokens."""
    from quire.synth.degrade import degrade

    texts = _transcriptions(staves, rendering.systems, config.encoding)
    geometry = PageGeometry.from_shapes(staff_geometry(rendering), texts, config.encoding)
    image, masks, points = degrade(
        255 - rendering.ink, rendering.coverages(), geometry.points(), config, seed
    )
    geometry = geometry.with_points(points, (image.shape[1], image.shape[0]))
    write_page(output, stem, image, masks, geometry, kern, parameters)


def _style(kind: str, config: SynthMusicConfig) -> MusicStyle:
    """What the generator may write for pages of ``config``."""
    return MusicStyle(
        kind=kind, clefs=tuple(config.clefs), fifths=(config.fifths_min, config.fifths_max)
    )


def synth_page(index: int, output: Path, config: SynthMusicConfig) -> str:
    """Render generated page ``index``; return its stem."""
    seed = config.seed * 1_000_003 + index
    rng = random.Random(seed)
    kind = config.kind if config.kind != "mixed" else rng.choice(["monophonic", "piano"])
    kern = _decorate(generate_kern(seed, _style(kind, config)), rng, config)
    toolkit = _toolkit(config, rng)
    _load(toolkit, kern)
    engraved = engrave(toolkit, 1)
    systems = _systems(engraved)
    keep = rng.randint(1, config.max_systems)
    if keep < len(systems) or toolkit.getPageCount() > 1:
        stop = (
            systems[keep].first_line
            if keep < len(systems)
            else _systems(engrave(toolkit, 2))[0].first_line
        )
        kern = _cut_before(kern, stop)
        _load(toolkit, kern)
        engraved = engrave(toolkit, 1)
    rendering = render(engraved, page_pixels(config))
    stem = f"music-{config.seed}-{index:05d}"
    staves = Transcriber(toolkit).pages([engraved])[0]
    _write(
        output,
        stem,
        rendering,
        staves,
        kern,
        config,
        seed,
        {"seed": seed, "encoding": config.encoding, "kind": kind},
    )
    return stem


def read_humdrum(path: Path) -> str:
    """A Humdrum file's text: UTF-8, else Latin-1 (as older collections are encoded, and
    as the Humdrum tools read them), said at ``-v``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        log.debug(
            "%s: not UTF-8 (byte 0x%02x at %d), read as Latin-1", path, data[exc.start], exc.start
        )
        return data.decode("latin-1")


KERN_SUFFIXES = (".krn", ".kern")
SCORE_SUFFIXES = (*KERN_SUFFIXES, ".musicxml", ".mxl", ".xml", ".mei")


def read_score(path: Path) -> str:
    """The **kern of a score file: Humdrum as it is; MusicXML and MEI as music21 reads
    them and converter21 writes them as Humdrum."""
    if path.suffix in KERN_SUFFIXES:
        return read_humdrum(path)
    import music21
    from converter21.humdrum import HumdrumWriter

    try:
        score = music21.converter.parse(path)
        written = io.StringIO()
        HumdrumWriter(score).write(written)
    except Exception as exc:  # music21 and converter21 raise whatever their parsers meet
        raise InputError(path, f"not a score music21 reads ({type(exc).__name__}: {exc})") from None
    return written.getvalue()


def synth_kern_file(path: Path, output: Path, config: SynthMusicConfig) -> list[str]:
    """Render every page of one score file (**kern, MusicXML, MEI); return the stems
    written."""
    kern = read_score(path)
    try:
        seed = config.seed * 1_000_003 + sum(map(ord, path.name))
        rng = random.Random(seed)
        toolkit = _toolkit(config, rng)
        _load(toolkit, kern)
        pages = [engrave(toolkit, page) for page in range(1, toolkit.getPageCount() + 1)]
        transcribed = Transcriber(toolkit).pages(pages)
        stems = []
        for number, (engraved, staves) in enumerate(zip(pages, transcribed, strict=True), start=1):
            stem = f"{path.stem}-{number:03d}"
            _write(
                output,
                stem,
                render(engraved, page_pixels(config)),
                staves,
                kern,
                config,
                seed + number,
                {"source": path.name, "page": number, "encoding": config.encoding},
            )
            stems.append(stem)
        return stems
    except KernError as exc:
        raise InputError(path, f"not usable **kern: {exc}") from None


def synth_music(
    output: Path, config: SynthMusicConfig, kern_dir: Path | None = None
) -> BatchResult:
    """Render ``config.pages`` generated pages, or every file of ``kern_dir``."""
    if (
        config.encoding in ("semantic", "agnostic")
        and config.kind != "monophonic"
        and kern_dir is None
    ):
        raise ConfigError(
            [
                f"synth-music.encoding: {config.encoding} is for monophonic music; "
                "use kind: monophonic, or encoding kern / bekern"
            ]
        )
    output.mkdir(parents=True, exist_ok=True)
    if kern_dir is not None:
        files = sorted(p for p in kern_dir.iterdir() if p.suffix in SCORE_SUFFIXES)
        if not files:
            raise InputError(kern_dir, f"no score files ({', '.join(SCORE_SUFFIXES)})")
        return run_batch(
            files, lambda p: synth_kern_file(p, output, config), description="synth music", name=str
        )
    return run_batch(
        range(config.pages),
        lambda i: synth_page(i, output, config),
        description="synth music",
        name=lambda i: f"page {i}",
        noun="page",
    )
