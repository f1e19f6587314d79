"""Stage configuration: one pydantic class per stage, the single source of its defaults.

The same class feeds the CLI options (their defaults and help), validates a YAML
configuration file, and is what each stage function takes. Precedence, lowest
first: class defaults, the stage's section of ``--config FILE.yaml``, flags.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import click
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from quire.errors import ConfigError

C = TypeVar("C", bound="StageConfig")
F = TypeVar("F", bound=Callable[..., Any])

SECTIONS: dict[str, type[StageConfig]] = {}


class StageConfig(BaseModel):
    """Base of every stage's configuration; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    section: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.section:
            SECTIONS[cls.section] = cls


def _device_field() -> Any:
    return Field(
        "auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto, cpu, cuda or cuda:N."
    )


class BinarizeConfig(StageConfig):
    """Background removal by Sauvola thresholding (Rodan's defaults)."""

    section: ClassVar[str] = "binarize"

    window: int = Field(15, ge=3, description="Sauvola window size in pixels (made odd).")
    k: float = Field(0.2, gt=0.0, lt=1.0, description="Sauvola k: higher keeps less ink.")
    empty_layer: bool = Field(
        False, description="Also write a fully transparent layer for Pixel.js labelling."
    )
    max_pixels: int = Field(
        200_000_000, gt=0, description="Refuse images with more pixels than this."
    )


class DegradeConfig(StageConfig):
    """How synthetic pages are degraded: chances per page and per effect."""

    scan_chance: float = Field(0.0, ge=0, le=1, description="Chance a page looks scanned.")
    camera_chance: float = Field(0.0, ge=0, le=1, description="Chance a page looks photographed.")
    noise: float = Field(0.5, ge=0, le=1, description="Scan: chance of sensor noise.")
    blur: float = Field(0.3, ge=0, le=1, description="Scan: chance of blur.")
    contrast: float = Field(0.5, ge=0, le=1, description="Scan: chance of contrast change.")
    texture: float = Field(0.5, ge=0, le=1, description="Scan: chance of paper texture.")
    bleed_through: float = Field(0.3, ge=0, le=1, description="Scan: chance of bleed-through.")
    jpeg: float = Field(0.3, ge=0, le=1, description="Scan: chance of JPEG artefacts.")
    salt_pepper: float = Field(0.2, ge=0, le=1, description="Scan: chance of salt-and-pepper.")
    perspective: float = Field(0.7, ge=0, le=1, description="Camera: chance of perspective.")
    rotation: float = Field(0.7, ge=0, le=1, description="Camera: chance of rotation.")
    max_rotation: float = Field(3.0, ge=0, le=45, description="Camera: largest rotation (deg).")
    warp: float = Field(0.5, ge=0, le=1, description="Camera: chance of a paper warp.")
    uneven_light: float = Field(0.7, ge=0, le=1, description="Camera: chance of uneven light.")
    ink_wear: float = Field(
        0.0, ge=0, le=1, description="Scan: chance of worn or spread ink, as in old prints."
    )


class SynthConfig(DegradeConfig):
    """What both synth stages take; ``X_min`` / ``X_max`` pairs must be in order."""

    pages: int = Field(10, ge=1, description="Pages to render (generated music or text).")
    seed: int = Field(0, description="Seed: the same seed and settings give the same files.")
    dpi: int = Field(300, ge=50, le=1200, description="Resolution of the page images.")

    @model_validator(mode="after")
    def _ranges_in_order(self) -> SynthConfig:
        for low in type(self).model_fields:
            high = low.replace("_min", "_max")
            if high != low and getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} is larger than {high}")
        return self


# Clefs of generated monophonic music, each as often as it is listed: C clefs often
# carry early music.
CLEFS = ("G2",) * 4 + ("F4",) * 2 + ("C1",) * 2 + ("C3",) * 2 + ("C4",) * 2
FIFTHS = (-5, 5)  # key signatures of generated music: five flats to five sharps


class SynthMusicConfig(SynthConfig):
    """Synthetic music pages rendered with Verovio, with ground truth and masks."""

    section: ClassVar[str] = "synth-music"

    kind: Literal["monophonic", "piano", "mixed"] = Field(
        "mixed", description="Generated music: one staff, piano systems, or both."
    )
    encoding: Literal["kern", "bekern", "semantic", "agnostic"] = Field(
        "kern", description="Encoding of the staff transcriptions (PrIMuS ones: monophonic)."
    )
    page_width_mm: float = Field(210.0, gt=20, description="Page width in mm (A4: 210).")
    page_height_mm: float = Field(297.0, gt=20, description="Page height in mm (A4: 297).")
    staff_size_min_mm: float = Field(6.0, gt=1, description="Smallest staff height in mm.")
    staff_size_max_mm: float = Field(8.0, gt=1, description="Largest staff height in mm.")
    max_systems: int = Field(6, ge=1, description="Systems per page are drawn from 1 … this.")
    fonts: list[Literal["Leipzig", "Bravura", "Leland", "Gootville", "Petaluma"]] = Field(
        ["Leipzig", "Bravura", "Leland", "Gootville", "Petaluma"],
        description="Verovio music fonts to draw from.",
    )
    title_chance: float = Field(0.3, ge=0, le=1, description="Chance of a title on the page.")
    lyrics_chance: float = Field(0.2, ge=0, le=1, description="Chance of lyrics (one staff).")
    clefs: list[Literal["G2", "F4", "C1", "C3", "C4"]] = Field(
        list(CLEFS),
        min_length=1,
        description="Clefs of monophonic staves, each drawn as often as it is listed.",
    )
    fifths_min: int = Field(
        FIFTHS[0], ge=-7, le=7, description="Fewest fifths of a key signature (-3: three flats)."
    )
    fifths_max: int = Field(
        FIFTHS[1], ge=-7, le=7, description="Most fifths of a key signature (4: four sharps)."
    )


class SynthTextConfig(SynthConfig):
    """Synthetic text pages rendered from fonts, with ground truth and masks."""

    section: ClassVar[str] = "synth-text"

    lines_min: int = Field(1, ge=1, description="Fewest text lines on a page.")
    lines_max: int = Field(12, ge=1, description="Most text lines on a page.")
    words_min: int = Field(2, ge=1, description="Fewest words on a line.")
    words_max: int = Field(10, ge=1, description="Most words on a line.")
    size_min_pt: float = Field(9.0, gt=2, description="Smallest font size in points.")
    size_max_pt: float = Field(16.0, gt=2, description="Largest font size in points.")
    bold_chance: float = Field(0.1, ge=0, le=1, description="Chance a line is bold.")
    italic_chance: float = Field(0.1, ge=0, le=1, description="Chance a line is italic.")
    underline_chance: float = Field(0.05, ge=0, le=1, description="Chance a line is underlined.")
    fonts: list[Path] = Field(
        [Path("/usr/share/fonts")],
        description="Font files or folders searched for .ttf / .otf / .woff fonts.",
    )
    skip_fonts: list[str] = Field(
        [],
        description="Font families to leave out, by the name the font gives itself "
        "(e.g. 'C059', 'DejaVu Serif'), such as one held out to test a model on.",
    )


class SynthCorpusConfig(StageConfig):
    """Running text for synthetic text pages: words drawn by their frequency (wordfreq)."""

    section: ClassVar[str] = "synth-corpus"

    languages: list[str] = Field(
        ["en", "de", "fr", "nl", "it", "es", "pt", "sv", "da", "pl", "cs"],
        description="wordfreq language codes, one paragraph each in turn.",
    )
    words: int = Field(50000, ge=1, description="Words to write in all.")
    vocabulary: int = Field(8000, ge=10, description="Most frequent words drawn per language.")
    number_chance: float = Field(0.03, ge=0, le=1, description="Chance a word is a number.")
    capital_chance: float = Field(0.08, ge=0, le=1, description="Chance a word is capitalised.")
    comma_chance: float = Field(0.08, ge=0, le=1, description="Chance of a comma after a word.")
    quote_chance: float = Field(
        0.02, ge=0, le=1, description="Chance a word is quoted or in parentheses."
    )
    spelling: Literal["modern", "historical"] = Field(
        "modern",
        description="historical: long s before letters, a small e over umlauts and (German) "
        "ß for ss at a syllable's end (ſ, aͤ, daß), as older prints set them.",
    )
    seed: int = Field(0, description="Seed: the same seed and settings give the same text.")


class LayoutTrainConfig(StageConfig):
    """Training of the layout pixel classifier."""

    section: ClassVar[str] = "layout-train"

    layers: list[str] = Field(
        ["background", "staff", "symbols", "text"],
        description="Layer names, in the order of the layer masks (Pixel.js: Layer 0, 1 …).",
    )
    depth: int = Field(4, ge=1, le=6, description="UNet poolings.")
    width: int = Field(8, ge=4, le=128, description="UNet channels at the first level.")
    norm: Literal["batch", "group", "none"] = Field("batch", description="Normalisation.")
    scale: float = Field(0.5, gt=0, le=1, description="Working resolution (1: full).")
    refine: int = Field(8, ge=1, le=64, description="Channels of the full-resolution refinement.")
    patch: int = Field(384, ge=64, description="Training patch size in page pixels.")
    affine: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Chance that a patch is scaled and rotated (its masks are resampled, "
        "which moves thin-line edges by up to a pixel).",
    )
    batch_size: int = Field(8, ge=1, description="Patches per step.")
    steps: int = Field(2000, ge=1, description="Most training steps.")
    validate_every: int = Field(200, ge=1, description="Steps between validations.")
    patience: int = Field(5, ge=1, description="Validations without improvement to stop.")
    learning_rate: float = Field(2e-3, gt=0, description="AdamW learning rate.")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="Share of pages for validation.")
    seed: int = Field(0, description="Seed of sampling, split and initialisation.")
    max_pixels: int = Field(60_000_000, gt=0, description="Refuse larger pages.")
    device: str = _device_field()


class LayoutPredictConfig(StageConfig):
    """Tiled prediction of every layer of a page."""

    section: ClassVar[str] = "layout-predict"

    tile: int = Field(1024, ge=128, description="Tile size in page pixels.")
    overlap: int = Field(64, ge=0, description="Overlap between tiles in page pixels.")
    batch_size: int = Field(2, ge=1, description="Tiles per forward pass.")
    pixeljs: bool = Field(False, description="Also write Pixel.js layer PNGs to correct.")
    max_pixels: int = Field(200_000_000, gt=0, description="Refuse larger images.")
    device: str = _device_field()


class ExtractConfig(StageConfig):
    """From layer masks to PageXML geometry."""

    section: ClassVar[str] = "extract"

    staff_layer: str = Field("staff", description="Layer of the staff lines.")
    symbols_layer: str = Field("symbols", description="Layer of the music symbols.")
    text_layer: str = Field("text", description="Layer of the text.")
    strips: int = Field(40, ge=4, description="Vertical strips a page is cut into.")
    min_line_length: float = Field(
        0.08, gt=0, le=1, description="Shortest staff line, as a share of the page width."
    )
    min_text_height: int = Field(8, ge=1, description="Lowest text line in pixels.")
    word_gap: float = Field(
        2.5,
        gt=0,
        description="Gaps closed inside a piece of a line (letters, narrow word spaces), in "
        "letter heights (median component height).",
    )
    line_gap: float = Field(
        10.0,
        gt=0,
        description="Widest gap a text line is followed across (justified spacing, missed "
        "words), in letter heights; never across a gutter between columns.",
    )
    paper_only: bool = Field(
        True,
        description="Keep only text that is dark ink on bright paper (not scan borders, "
        "shadows or the edges of the book's other leaves).",
    )


class CutConfig(StageConfig):
    """Cutting line and staff snippets along PageXML polygons."""

    section: ClassVar[str] = "cut"

    deskew: bool = Field(True, description="Turn every snippet so that its baseline is level.")
    mask: bool = Field(True, description="Hide what lies outside the line's polygon.")
    fill: Literal["white", "alpha"] = Field(
        "white",
        description="Outside the polygon: white (grayscale PNG) or transparent (RGBA, as Loghi).",
    )
    padding: int = Field(0, ge=0, description="Pixels of fill added on every side.")
    height: int = Field(0, ge=0, description="Scale snippets to this height (0: as cut).")
    min_height: int = Field(4, ge=1, description="Leave out snippets lower than this (pixels).")
    min_confidence: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Ground truth lists: leave out lines whose TextEquiv@conf is lower.",
    )
    max_confidence: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Ground truth lists: leave out lines whose TextEquiv@conf is higher.",
    )
    weights: bool = Field(
        False,
        description="Ground truth lists as path<TAB>weight<TAB>text, weight = TextEquiv@conf.",
    )
    style_markers: bool = Field(
        False,
        description="Ground truth lists: Loghi's style markers before styled characters "
        "(␃ strikethrough, ␄ subscript, ␅ underlined, ␆ superscript).",
    )
    workers: int = Field(0, ge=0, description="Processes cutting pages in parallel (0: this one).")


class OrderConfig(StageConfig):
    """Reading order of regions, lines and words."""

    section: ClassVar[str] = "order"

    min_gap: float = Field(
        0.01,
        gt=0,
        lt=1,
        description="Narrowest gap between columns or bands, as a share of the page's size.",
    )


class LanguageConfig(StageConfig):
    """Language identification of text lines, regions and pages."""

    section: ClassVar[str] = "language"

    languages: list[str] = Field(
        [], description="ISO 639-1 codes to choose from, such as en, nl, la (default: all)."
    )
    min_chars: int = Field(12, ge=1, description="Fewest letters a text needs to be identified.")
    min_probability: float = Field(
        0.5, ge=0, le=1, description="Leave the language out when less sure than this."
    )


class PseudolabelConfig(StageConfig):
    """Which predicted lines become training data."""

    section: ClassVar[str] = "pseudolabel"

    min_confidence: float = Field(0.9, ge=0, le=1, description="Keep lines at least this sure.")
    max_confidence: float = Field(1.0, ge=0, le=1, description="Keep lines at most this sure.")
    kind: Literal["staves", "lines", "all"] = Field(
        "all", description="From a work folder: staves, text lines, or both."
    )


class ExportConfig(StageConfig):
    """What quire export writes."""

    section: ClassVar[str] = "export"

    formats: list[Literal["kern", "musicxml", "midi", "mei", "text", "overlay"]] = Field(
        ["kern", "musicxml", "midi", "mei", "text", "overlay"], description="Formats to write."
    )
    overlay_width: int = Field(
        1600, ge=0, description="Scale overlay pictures down to this width (0: page size)."
    )


class RecognizeTrainConfig(StageConfig):
    """Training of a line recognizer (CRNN + CTC) for staves or text lines."""

    section: ClassVar[str] = "recognize-train"

    encoding: Literal["text", "kern", "bekern", "semantic", "agnostic"] = Field(
        "text", description="What the lines hold: text (characters) or a music encoding (tokens)."
    )
    normalization: Literal["NFC", "NFD", "NFKC", "NFKD", "none"] = Field(
        "NFC", description="Unicode normalisation of transcriptions."
    )
    architecture: str = Field(
        "default", description="Preset (default, primus) or a VGSL-like spec (docs/recognize.md)."
    )
    batch_size: int = Field(16, ge=1, description="Lines per step (per process under DDP).")
    epochs: int = Field(50, ge=1, description="Most epochs.")
    epoch_size: int = Field(
        0, ge=0, description="Lines per epoch, drawn anew each epoch (0: all lines)."
    )
    patience: int = Field(5, ge=1, description="Epochs without a better validation to stop.")
    learning_rate: float = Field(1e-3, gt=0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(1e-2, ge=0, description="AdamW weight decay.")
    augment: bool = Field(True, description="Augment training lines.")
    val_fraction: float = Field(
        0.05, ge=0, lt=1, description="Share of lines for validation when no list is given."
    )
    freeze: list[Literal["convolutions", "recurrent"]] = Field(
        [], description="Parts of the network not to train (fine-tuning)."
    )
    max_width: int = Field(8000, ge=16, description="Refuse lines wider than this when scaled.")
    workers: int = Field(0, ge=0, description="Processes preparing batches (0: the trainer).")
    seed: int = Field(0, description="Seed of split, sampling, augmentation, initialisation.")
    device: str = _device_field()
    amp: bool = Field(True, description="Mixed precision on a GPU (never on the CPU).")


class RecognizePredictConfig(StageConfig):
    """Recognition of line snippets with a trained recognizer."""

    section: ClassVar[str] = "recognize-predict"

    batch_size: int = Field(16, ge=1, description="Lines per forward pass.")
    batch_columns: int = Field(
        24000,
        ge=16,
        description="Most columns per forward pass (lines × the widest, at the model's "
        "height): bounds memory on wide lines; a line wider than this goes alone.",
    )
    decoder: Literal["greedy", "beam"] = Field("greedy", description="CTC decoding.")
    beam_width: int = Field(10, ge=1, description="Beam decoding: prefixes kept.")
    token_confidences: bool = Field(
        False, description="Also write one confidence per symbol (OUTPUT with .tokens.tsv)."
    )
    normalise: bool = Field(
        False,
        description="Write text in modern letters: ſ as s, aͤ as ä, ligatures as their letters.",
    )
    max_width: int = Field(8000, ge=16, description="Refuse lines wider than this when scaled.")
    device: str = _device_field()


# --- YAML files ------------------------------------------------------------------


def read_config_file(path: Path) -> dict[str, dict[str, Any]]:
    """Parse a configuration file: a mapping of stage sections to mappings of keys; every
    problem of the file (sections, keys and values of every section) in one error."""
    sections, problems = _read_sections(path)
    if problems:
        raise ConfigError(problems)
    return sections


def _read_sections(path: Path, own: str = "") -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The sections of a configuration file and one line per problem in them; section
    ``own`` is not checked (its values are checked with the flags that override them)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError([f"{path}: not valid YAML{where}"]) from None
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of stage sections, e.g. 'binarize:'"])
    problems = []
    for key, value in data.items():
        if key not in SECTIONS:
            known = ", ".join(sorted(SECTIONS))
            problems.append(f"{path}: unknown section '{key}' (known: {known})")
        elif value is not None and not isinstance(value, dict):
            problems.append(f"{path}: section '{key}' must be a mapping of keys to values")
        elif key != own:  # its keys and values; rules over several keys may need flags
            problems += _problems(SECTIONS[key], value or {}, str(path), rules=False)
    usable = {k: v or {} for k, v in data.items() if k in SECTIONS and isinstance(v, dict | None)}
    return usable, problems


def build_config(cls: type[C], config_file: Path | None, flags: dict[str, Any]) -> C:
    """Merge defaults, the file's section for ``cls`` and explicitly given flags."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    if config_file is not None:
        sections, problems = _read_sections(config_file, cls.section)
        values.update(sections.get(cls.section, {}))
    values.update({key: value for key, value in flags.items() if value is not None})
    problems += _problems(cls, values, str(config_file) if config_file else "options")
    if problems:
        raise ConfigError(problems)
    return cls(**values)


def _problems(
    cls: type[StageConfig], values: dict[str, Any], source: str, rules: bool = True
) -> list[str]:
    """One line per key or value of ``values`` that ``cls`` does not take (and, with
    ``rules``, per broken rule over several keys)."""
    try:
        cls(**values)
    except ValidationError as exc:
        errors = [error for error in exc.errors() if rules or error["loc"]]
        return [_describe(error, source, cls.section) for error in errors]
    return []


def _describe(error: Any, source: str, section: str) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{source}: {section}.{key}: unknown key"
    if not key:  # a rule over several keys
        return f"{source}: {section}: {error['msg'].removeprefix('Value error, ')}"
    return f"{source}: {section}.{key}: {error['msg']} (got {error['input']!r})"


# --- CLI options -----------------------------------------------------------------


def config_options(cls: type[StageConfig]) -> Callable[[F], F]:
    """Add ``--config`` and one option per field of ``cls`` to a click command.

    Options default to ``None`` so that only flags the user gave override the file;
    the help text shows the class default.
    """

    def decorate(func: F) -> F:
        for name, info in reversed(list(cls.model_fields.items())):
            func = _option(name, info)(func)
        return click.option(
            "--config",
            "config_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=f"YAML file whose '{cls.section}:' section sets defaults for these options.",
        )(func)

    return decorate


def _option(name: str, info: Any) -> Callable[[F], F]:
    flag = "--" + name.replace("_", "-")
    annotation = _strip_optional(info.annotation)
    if typing.get_origin(annotation) is list:
        item = typing.get_args(annotation)[0]
        return click.option(
            flag,
            name,
            multiple=True,
            type=_click_type(item),
            default=None,
            help=f"{info.description or ''} Repeat for several. "
            f"[default: {', '.join(map(str, info.default))}]",
            callback=lambda _ctx, _param, value: list(value) or None,
        )
    help_text = f"{info.description or ''} [default: {_show(info.default)}]"
    if annotation is bool:
        return click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=help_text)
    return click.option(flag, name, type=_click_type(annotation), default=None, help=help_text)


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _click_type(annotation: Any) -> click.ParamType:
    if typing.get_origin(annotation) is Literal:
        return click.Choice([str(arg) for arg in typing.get_args(annotation)])
    if annotation is Path:
        return click.Path(path_type=Path)
    return {int: click.INT, float: click.FLOAT, str: click.STRING}[annotation]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else str(value)
