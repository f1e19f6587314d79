"""Synthetic text pages from font files and texts, with PageXML ground truth and masks.

Each page holds a few lines of text in one region; each line is drawn in one
font (a bold or italic face of the family when there is one, else a synthetic
stroke or slant), at a random size, sometimes underlined. The ground truth has
each line's polygon, its baseline (from the font's ascent) and its text; the
layers split ink (text) from paper (background).
"""

from __future__ import annotations

import logging
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quire.batch import BatchResult, run_batch
from quire.config import SynthTextConfig
from quire.errors import ConfigError, InputError
from quire.spelling import LONG_S, SMALL_E
from quire.synth.output import Line, PageGeometry, densify, write_page

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

FONT_SUFFIXES = (".ttf", ".otf", ".woff")
_BOLD = re.compile(r"bold|black|heavy|demi", re.IGNORECASE)
_ITALIC = re.compile(r"italic|oblique", re.IGNORECASE)
_REGULAR = re.compile(r"regular|book|roman|light|medium|normal", re.IGNORECASE)
_MARGIN_MM = 10.0
log = logging.getLogger("quire")


@dataclass(frozen=True)
class FontFace:
    """One font file and the code points it draws."""

    path: Path
    code_points: frozenset[int]

    def draws(self, text: str) -> bool:
        """Whether every character of ``text`` but spaces has a glyph in this face (a
        small e over a letter is drawn from the face's e)."""
        return all(
            ord(c) in self.code_points or (c == SMALL_E and ord("e") in self.code_points)
            for c in text
            if not c.isspace()
        )

    def spelt(self, text: str) -> str:
        """``text`` as this face sets it: a round s where it has no long s."""
        return text if ord(LONG_S) in self.code_points else text.replace(LONG_S, "s")


@dataclass(frozen=True)
class FontFamily:
    """The faces of one family: regular, bold, italic, bold-italic (those found)."""

    name: str
    faces: dict[str, FontFace]

    def face(self, style: str) -> FontFace:
        """The face for ``style``, or the regular one when the family has none."""
        return self.faces.get(style, self.faces["regular"])


def _face_style(subfamily: str) -> str | None:
    """'regular', 'bold', 'italic' or 'bold-italic' from a font's subfamily name."""
    bold, italic = bool(_BOLD.search(subfamily)), bool(_ITALIC.search(subfamily))
    if bold or italic:
        return "bold-italic" if bold and italic else "bold" if bold else "italic"
    return "regular" if _REGULAR.search(subfamily) else None


def find_fonts(sources: list[Path], skip: list[str] | None = None) -> list[FontFamily]:
    """Text fonts in the given files and folders, grouped into families by their names.

    Families are named as the fonts name themselves (e.g. 'DejaVu Serif'); those in
    ``skip``, those without a regular face, symbol fonts (whose Latin letters are
    glyphs of other names) and files that are no fonts (with a warning) are left out.
    """
    from fontTools.ttLib import TTFont, TTLibError

    files = []
    for source in sources:
        if source.is_file() and source.suffix.lower() in FONT_SUFFIXES:
            files.append(source)
        elif source.is_dir():
            files += [p for p in source.rglob("*") if p.suffix.lower() in FONT_SUFFIXES]
    skipped = {name.casefold() for name in skip or []}
    families: dict[str, dict[str, FontFace]] = {}
    for path in sorted(set(files)):
        try:
            with TTFont(path, lazy=True) as font:
                family, subfamily = font["name"].getDebugName(1), font["name"].getDebugName(2)
                glyphs = font.getBestCmap() or {}
        except (OSError, TTLibError, KeyError) as exc:
            log.warning("%s: cannot read as a font (%s); left out", path, exc)
            continue
        style = _face_style(subfamily or "")
        if not family or family.casefold() in skipped or style is None:
            continue
        if not all(glyphs.get(ord(c)) in (c, f"uni{ord(c):04X}") for c in string.ascii_letters):
            continue  # a symbol font, whose letters draw other signs
        families.setdefault(family, {}).setdefault(style, FontFace(path, frozenset(glyphs)))
    return [
        FontFamily(name, faces) for name, faces in sorted(families.items()) if "regular" in faces
    ]


def read_texts(paths: list[Path]) -> list[str]:
    """Words of every text file, in order (blank lines dropped)."""
    words = []
    for path in paths:
        try:
            words += path.read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(path, f"cannot read as UTF-8 text ({exc})") from None
    return words


def _draw_line(
    text: str, family: FontFamily, size_px: int, style: str, underline: bool
) -> tuple[np.ndarray, int]:
    """Render one line: ink coverage (0…255, uint8) and the baseline row."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(family.face(style).path), size_px)
    ascent, descent = font.getmetrics()
    marked = [k - 1 - n for n, k in enumerate(i for i, c in enumerate(text) if c == SMALL_E)]
    text = text.replace(SMALL_E, "")  # drawn below, over the letters it follows
    width = int(font.getlength(text)) + 2 * size_px
    height = ascent + descent + size_px // 2
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    synthetic_bold = "bold" in style and "bold" not in family.faces
    draw.text(
        (size_px, size_px // 4),
        text,
        font=font,
        fill=255,
        stroke_width=max(1, size_px // 30) if synthetic_bold else 0,
        stroke_fill=255,
    )
    if marked:
        _draw_small_e(draw, text, marked, font, (size_px, size_px // 4))
    baseline = size_px // 4 + ascent
    if underline:
        y = baseline + max(2, descent // 2)
        draw.line(
            (size_px, y, size_px + font.getlength(text), y), fill=255, width=max(1, size_px // 16)
        )
    ink = np.asarray(canvas)
    if "italic" in style and "italic" not in family.faces:
        shear = 0.2
        canvas = canvas.transform(
            (width + int(shear * height), height),
            Image.AFFINE,
            (1, shear, -shear * baseline, 0, 1, 0),
            Image.BILINEAR,
        )
        ink = np.asarray(canvas)
    return ink, baseline


def _draw_small_e(
    draw: ImageDraw.ImageDraw,
    text: str,
    letters: list[int],
    font: ImageFont.FreeTypeFont,
    origin: tuple[int, int],
) -> None:
    """A small e over each of ``letters`` (indices in ``text``), as Fraktur prints set
    umlauts."""
    from PIL import ImageFont

    small = ImageFont.truetype(font.path, max(4, round(font.size * 0.45)))
    _, _, e_width, e_bottom = small.getbbox("e")
    for k in letters:
        left = origin[0] + font.getlength(text[:k])
        top = origin[1] + font.getbbox(text[k])[1]  # the letter's top below the origin
        x = left + (font.getlength(text[k]) - e_width) / 2
        draw.text((x, top - e_bottom - max(1, font.size // 20)), "e", font=small, fill=255)


def synth_text_page(
    index: int, output: Path, config: SynthTextConfig, families: list[FontFamily], words: list[str]
) -> str:
    """Render text page ``index``; return its stem."""
    from quire.synth.degrade import degrade

    seed = config.seed * 1_000_003 + index
    rng = random.Random(seed)
    px_per_pt = config.dpi / 72
    margin = round(_MARGIN_MM / 25.4 * config.dpi)
    rendered = []
    for _ in range(rng.randint(config.lines_min, config.lines_max)):
        count = rng.randint(config.words_min, config.words_max)
        start = rng.randrange(max(1, len(words) - count + 1))
        text = " ".join(words[start : start + count])
        style = ("bold" if rng.random() < config.bold_chance else "") + (
            "italic" if rng.random() < config.italic_chance else ""
        )
        style = {"bolditalic": "bold-italic", "": "regular"}.get(style, style)
        drawing = [f for f in families if f.face(style).draws(f.face(style).spelt(text))]
        if not drawing:
            missing = "".join(
                dict.fromkeys(c for c in text if not any(f.face(style).draws(c) for f in families))
            )
            raise InputError(
                Path(f"page {index}"),
                f"no configured font draws {missing!r} (in {text!r}); add one to synth-text.fonts",
            )
        family = rng.choice(drawing)
        text = family.face(style).spelt(text)
        size = round(rng.uniform(config.size_min_pt, config.size_max_pt) * px_per_pt)
        ink, baseline = _draw_line(
            text, family, size, style, rng.random() < config.underline_chance
        )
        rendered.append((text, ink, baseline))
    width = max(ink.shape[1] for _, ink, _ in rendered) + 2 * margin
    height = sum(ink.shape[0] for _, ink, _ in rendered) + 2 * margin
    coverage = np.zeros((height, width), np.uint8)
    lines, y = [], margin
    for text, ink, baseline in rendered:
        x = margin + rng.randint(0, max(0, width - 2 * margin - ink.shape[1]))
        coverage[y : y + ink.shape[0], x : x + ink.shape[1]] = np.maximum(
            coverage[y : y + ink.shape[0], x : x + ink.shape[1]], ink
        )
        rows, cols = np.nonzero(ink)
        if len(rows):
            pad = max(2, ink.shape[0] // 12)
            x0, x1 = x + cols.min() - pad, x + cols.max() + pad
            y0, y1 = y + rows.min() - pad, y + rows.max() + pad
            polygon = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], float)
            base = np.array([(x0 + pad, y + baseline), (x1 - pad, y + baseline)], float)
            lines.append(Line(densify(polygon), densify(base, closed=False), text, "text"))
        y += ink.shape[0]
    image = (255 - coverage).astype(np.uint8)
    nothing = np.zeros_like(coverage)
    geometry = PageGeometry([("text", lines)])
    image, masks, points = degrade(
        image, [nothing, nothing, coverage], geometry.points(), config, seed
    )
    geometry = geometry.with_points(points, (image.shape[1], image.shape[0]))
    stem = f"text-{config.seed}-{index:05d}"
    write_page(
        output,
        stem,
        image,
        masks,
        geometry,
        None,
        parameters={"seed": seed, "fonts": ",".join(sorted({f.name for f in families}))},
    )
    return stem


def synth_text(output: Path, config: SynthTextConfig, texts: list[Path]) -> BatchResult:
    """Render ``config.pages`` pages of words from ``texts`` in the configured fonts."""
    missing = [str(path) for path in config.fonts if not path.exists()]
    if missing:
        raise ConfigError([f"synth-text.fonts: no such file or folder: {path}" for path in missing])
    families = find_fonts(config.fonts, config.skip_fonts)
    if not families:
        raise ConfigError(
            [
                f"synth-text.fonts: no text fonts in {', '.join(map(str, config.fonts))}"
                + (f" but {', '.join(config.skip_fonts)}" if config.skip_fonts else "")
                + " (on Debian: apt-get install fonts-dejavu-core fonts-liberation2)"
            ]
        )
    words = read_texts(texts)
    if not words:
        raise InputError(texts[0] if texts else output, "no words in the text files")
    output.mkdir(parents=True, exist_ok=True)
    return run_batch(
        range(config.pages),
        lambda i: synth_text_page(i, output, config, families, words),
        description="synth text",
        name=lambda i: f"page {i}",
        noun="page",
    )
