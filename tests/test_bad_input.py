"""Bad input, stage by stage, as docs/bad-input.md promises it: the exit status, one clear
line naming the file and the problem (never a traceback), the rest of the batch done, the
user's files byte-identical, nothing half-written and nothing outside the output folder.

Every case puts what the user gives under ``in/`` and lets quire write under ``out/``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, make_scan, script_environment

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
BOX = "10,60 300,60 300,110 10,110"


@dataclass
class Run:
    """What a case runs (quire's arguments, or a script and its arguments), the line it
    must print once, and a check that the rest of the batch was done."""

    args: list[object]
    message: str
    done: Callable[[], bool] = field(default=lambda: True)
    output: str = ""  # what it printed, for ``done`` to read


@dataclass
class Case:
    stage: str
    code: int
    setup: Callable[[Path, Path], Run]  # (in, out) -> Run


CASES: dict[str, Case] = {}


def case(stage: str, code: int) -> Callable[[Callable[[Path, Path], Run]], None]:
    """Register a case under its function's name (dashes for underscores)."""

    def register(setup: Callable[[Path, Path], Run]) -> None:
        CASES[setup.__name__.replace("_", "-")] = Case(stage, code, setup)

    return register


def table(stage: str, code: int, build: Callable[..., Run], rows: dict[str, tuple]) -> None:
    """Register a case per row: its setup calls ``build(in, out, *row)``."""
    for name, row in rows.items():

        def setup(inp: Path, out: Path, row: tuple = row) -> Run:
            return build(inp, out, *row)

        CASES[name] = Case(stage, code, setup)


# --- building bad input ------------------------------------------------------------


def text_line(line_id: str | None, points: str = BOX, text: str = "quire") -> str:
    ident = "" if line_id is None else f" id={quoteattr(line_id)}"
    return (
        f'<TextLine{ident}><Coords points="{points}"/>'
        f"<TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>"
    )


def write_page(path: Path, image: str, *lines: str) -> Path:
    stamp = "2026-01-01T00:00:00"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<PcGts xmlns="{PAGE_NS}"><Metadata>'
        f"<Creator>test</Creator><Created>{stamp}</Created><LastChange>{stamp}</LastChange>"
        f'</Metadata><Page imageFilename={quoteattr(image)} imageWidth="320" imageHeight="240">'
        f'<TextRegion id="r1"><Coords points="0,0 319,0 319,239 0,239"/>{"".join(lines)}'
        "</TextRegion></Page></PcGts>\n"
    )
    return path


def pages_with(inp: Path, *bad_lines: str) -> Path:
    """in/images/{page,other}.png with in/page/*.xml: page.xml holds ``bad_lines`` and a
    good line, other.xml a good line; returns page.xml."""
    for stem in ("page", "other"):
        make_scan(inp / "images" / f"{stem}.png")
    write_page(inp / "page" / "other.xml", "other.png", text_line("l1"))
    return write_page(inp / "page" / "page.xml", "page.png", *bad_lines, text_line("good"))


def cut_run(inp: Path, out: Path, message: str) -> Run:
    """quire cut of ``pages_with``: the good lines of both pages are cut."""
    return Run(
        ["cut", inp / "images", out, "--pages", inp / "page"],
        message,
        lambda: (
            (out / "snippets/page/page-good.png").is_file()
            and (out / "snippets/other/other-l1.png").is_file()
            and len((out / "lists/lines-gt.txt").read_text().splitlines()) == 2
        ),
    )


def line_run(inp: Path, out: Path, bad_line: str, problem: str) -> Run:
    """page.xml holds ``bad_line``, refused with ``problem``."""
    xml = pages_with(inp, bad_line)
    return cut_run(inp, out, re.escape(f"{xml}: ") + ".*" + problem)


PLAIN_ID = r"is not a plain XML id"
table(
    "cut",
    1,
    line_run,
    {
        "cut-id-traversal-onto-an-input": (text_line("x/../../../../in/images/page"), PLAIN_ID),
        "cut-id-escaping-the-work-folder": (text_line("x/../../../../ESCAPED"), PLAIN_ID),
        "cut-id-absolute-path": (text_line("/tmp/quire-escaped"), PLAIN_ID),
        "cut-id-with-backslash": (text_line("..\\..\\x"), PLAIN_ID),
        "cut-id-empty": (text_line(""), PLAIN_ID),
        "cut-id-missing": (text_line(None), "a line without an id"),
        "cut-id-too-long": (text_line("l" * 300), PLAIN_ID),
        "cut-id-repeated": (text_line("good", text="other"), "line id 'good' is used twice"),
        "cut-polygon-of-one-point": (text_line("p1", "10,10"), "needs 3 points, it has 1"),
        "cut-polygon-of-two-points": (text_line("p2", "10,10 90,90"), "it has 2"),
        "cut-polygon-collinear": (text_line("p3", "10,10 50,50 90,90"), "has no area"),
        "cut-points-not-numbers": (text_line("p4", "a,b 10,10 90,10 90,40"), "'a,b'"),
        "cut-points-nan": (text_line("p5", "NaN,1 10,10 90,10 90,40"), "unreadable polygon"),
        "cut-points-overflow": (text_line("p6", "1e999,5 10,10 90,40"), "'1e999,5'"),
    },
)


@case("cut", 1)
def cut_page_not_xml(inp: Path, out: Path) -> Run:
    pages_with(inp)
    broken = inp / "page" / "broken.xml"
    broken.write_bytes(b"<PcGts><Page")
    return cut_run(inp, out, re.escape(f"{broken}: not well-formed XML"))


@case("cut", 1)
def cut_page_with_entities(inp: Path, out: Path) -> Run:
    pages_with(inp)
    bomb = inp / "page" / "bomb.xml"
    bomb.write_text('<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><PcGts/>')
    return cut_run(inp, out, re.escape(f"{bomb}: ") + "declares XML entities")


@case("cut", 1)
def cut_image_filename_outside(inp: Path, out: Path) -> Run:
    pages_with(inp)
    make_scan(inp / "secret.png")
    write_page(inp / "page" / "away.xml", "../secret.png", text_line("l1"))
    return cut_run(inp, out, re.escape(f"{inp / 'images' / 'away'}: no page image of this name"))


@case("cut", 1)
def cut_image_unreadable(inp: Path, out: Path) -> Run:
    pages_with(inp)
    write_page(inp / "page" / "torn.xml", "torn.png", text_line("l1"))
    (inp / "images" / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    return cut_run(inp, out, re.escape(f"{inp / 'images' / 'torn.png'}: ") + "not a readable")


@case("create-train-data.sh", 1)
def script_create_train_data_id_traversal(inp: Path, out: Path) -> Run:
    pages_with(inp, text_line("x/../../../../in/page"))
    shutil.copytree(inp / "images", inp, dirs_exist_ok=True)  # IN holds images and IN/page
    return Run(
        [REPO / "scripts" / "create-train-data.sh", inp, out, "--runner", "local"],
        re.escape("line id 'x/../../../../in/page' is not a plain XML id"),
        lambda: (out / "snippets/page/page-good.png").is_file(),
    )


# --- images ------------------------------------------------------------------------


def scans_with(inp: Path, name: str) -> Path:
    """in/scans/good.png and the path of the case's own file beside it."""
    make_scan(inp / "scans" / "good.png")
    return inp / "scans" / name


def binarize_run(inp: Path, out: Path, message: str) -> Run:
    return Run(["binarize", inp / "scans", out], message, lambda: (out / "good.png").is_file())


def ink_share(path: Path) -> float:
    return float((np.asarray(Image.open(path))[..., 3] > 0).mean())


def ruled(paper: float, ink: float, dtype: type = np.uint8) -> np.ndarray:
    """A 320 x 240 page of ``paper`` with a ruled line of ``ink``."""
    page = np.full((240, 320), paper, dtype)
    page[100:112, 20:300] = ink
    return page


def sixteen_bit(path: Path) -> np.ndarray:
    """A 16-bit scan as scanners write them (ink about 5000, paper about 50900); returns
    the 8-bit image it stands for."""
    gray = ruled(198, 19)
    gray[40:60, 40:60] = 19
    Image.fromarray(gray.astype(np.uint16) * 257).save(path)
    return gray


def ink_kept(inp: Path, out: Path, path: Path) -> Run:
    """Both scans binarized, the ink of ``path`` kept (not a white page)."""
    result = out / f"{path.stem}.png"
    return Run(
        ["binarize", inp / "scans", out],
        "2 of 2 files done",
        lambda: 0.01 < ink_share(result) < 0.2,
    )


@case("binarize", 0)
def binarize_sixteen_bit_scan(inp: Path, out: Path) -> Run:
    path = scans_with(inp, "deep.png")
    sixteen_bit(path)
    return ink_kept(inp, out, path)


@case("binarize", 0)
def binarize_float_tiff(inp: Path, out: Path) -> Run:
    path = scans_with(inp, "float.tif")
    Image.fromarray(ruled(0.78, 0.08, np.float32)).save(path)
    return ink_kept(inp, out, path)


@case("binarize", 0)
def binarize_tiff_with_a_thumbnail(inp: Path, out: Path) -> Run:
    """A page with a reduced-resolution copy (a thumbnail) is one page, not two."""
    import tifffile

    path = scans_with(inp, "thumbed.tif")
    page = ruled(200, 10)
    with tifffile.TiffWriter(path) as tiff:
        tiff.write(page)
        tiff.write(page[::4, ::4], subfiletype=1)
    return ink_kept(inp, out, path)


@case("binarize", 1)
def binarize_multipage_tiff(inp: Path, out: Path) -> Run:
    path = scans_with(inp, "book.tif")
    pages = [Image.new("L", (60, 80), 255) for _ in range(3)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return binarize_run(inp, out, re.escape(f"{path}: a multi-page TIFF (3 pages)"))


@case("binarize", 1)
def binarize_truncated_png(inp: Path, out: Path) -> Run:
    path = scans_with(inp, "torn.png")
    make_scan(inp / "whole.png")
    path.write_bytes((inp / "whole.png").read_bytes()[:300])
    return binarize_run(inp, out, re.escape(f"{path}: cannot read image"))


@case("binarize", 1)
def binarize_empty_file(inp: Path, out: Path) -> Run:
    path = scans_with(inp, "empty.png")
    path.write_bytes(b"")
    return binarize_run(inp, out, re.escape(f"{path}: not a readable image"))


@case("binarize", 1)
def binarize_text_named_jpg(inp: Path, out: Path) -> Run:
    path = scans_with(inp, "notes.jpg")
    path.write_text("not a picture\n")
    return binarize_run(inp, out, re.escape(f"{path}: not a readable image"))


@case("binarize", 1)
def binarize_broken_link(inp: Path, out: Path) -> Run:
    path = scans_with(inp, "gone.png")
    path.symlink_to(inp / "nowhere.png")
    return binarize_run(inp, out, re.escape(f"{path}: broken link"))


@case("binarize", 1)
def binarize_pixel_bomb(inp: Path, out: Path) -> Run:
    """A small PNG whose header claims 100000 x 100000 pixels."""
    path = scans_with(inp, "bomb.png")
    data = bytearray((inp / "scans" / "good.png").read_bytes())
    header = struct.pack(">II", 100_000, 100_000) + bytes(data[24:29])
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    path.write_bytes(bytes(data))
    return binarize_run(inp, out, re.escape(f"{path}: image is 100000x100000, over the limit"))


@case("binarize", 2)
def binarize_output_inside_input(inp: Path, out: Path) -> Run:
    scans_with(inp, "unused.png")
    inside = inp / "scans" / "out"
    return Run(["binarize", inp / "scans", inside], "inside the input folder")


@case("binarize", 2)
def binarize_output_is_input(inp: Path, out: Path) -> Run:
    scans_with(inp, "unused.png")
    return Run(["binarize", inp / "scans", inp / "scans"], "inside the input folder")


# --- models ------------------------------------------------------------------------


@case("layout predict", 1)
def layout_page_of_one_pixel(inp: Path, out: Path) -> Run:
    make_scan(inp / "scans" / "good.png")
    Image.new("L", (1, 1), 0).save(inp / "scans" / "dot.png")
    return Run(
        ["layout", "predict", inp / "scans", out, "-m", REPO / "models/layout-default"],
        re.escape(f"{inp / 'scans/dot.png'}: image is 1x1, too small for the layout model")
        + r" \(the smallest it takes is 2x2\)",
        lambda: (out / "layers/good/labels.png").is_file(),
    )


@case("layout predict", 0)
def layout_sixteen_bit_scan(inp: Path, out: Path) -> Run:
    """A 16-bit scan is labelled exactly as the 8-bit page it stands for."""
    gray = sixteen_bit(scans_with(inp, "deep.png"))
    Image.fromarray(gray).save(inp / "scans" / "flat.png")

    def same() -> bool:
        labels = [np.asarray(Image.open(out / f"layers/{s}/labels.png")) for s in ("deep", "flat")]
        return bool((labels[0] == labels[1]).all() and (labels[0] > 0).any())

    return Run(
        ["layout", "predict", inp / "scans", out, "-m", REPO / "models/layout-default"],
        "3 of 3 pages done",
        same,
    )


def snippets(inp: Path, count: int = 3) -> Path:
    """in/lines/l0.png … and in/lines/list.txt of them (path and text)."""
    folder = inp / "lines"
    rows = []
    for i in range(count):
        make_scan(folder / f"l{i}.png", (160, 40), text="abc"[i % 3] * 4)
        rows.append(f"l{i}.png\t{'abc'[i % 3] * 4}\n")
    (folder / "list.txt").write_text("".join(rows))
    return folder / "list.txt"


def meta_edit(change: Callable[[dict], object]) -> Callable[[Path], None]:
    """Breaks a model by changing its model.json in place."""

    def breaks(model: Path) -> None:
        meta = json.loads((model / "model.json").read_text())
        change(meta)
        (model / "model.json").write_text(json.dumps(meta))

    return breaks


def file_put(name: str, data: bytes | None) -> Callable[[Path], None]:
    """Breaks a model by writing ``data`` to one of its files (``None``: removing it)."""

    def breaks(model: Path) -> None:
        if data is None:
            (model / name).unlink()
        else:
            (model / name).write_bytes(data)

    return breaks


def narrower_lstm(meta: dict) -> None:
    meta["architecture"]["spec"] = meta["architecture"]["spec"].replace("Lbx128", "Lbx96")


def model_run(inp: Path, out: Path, name: str, breaks: Callable[[Path], None], message: str) -> Run:
    """A copy of a shipped model, broken by ``breaks``, used on good pages or snippets;
    ``{model}`` in ``message`` stands for the copy's folder."""
    model = inp / name
    shutil.copytree(REPO / "models" / name, model)
    breaks(model)
    pattern = re.escape(str(model)).join(message.split("{model}"))
    if name.startswith("layout"):
        make_scan(inp / "scans" / "good.png")
        return Run(["layout", "predict", inp / "scans", out, "-m", model], pattern)
    listing = snippets(inp)
    results = out / "results.tsv"
    return Run(["recognize", "predict", listing, "-m", model, "-o", results], pattern)


OTHER_NET = r"tensors, \d+ differ in shape.*another --architecture"
table(
    "layout predict",
    2,
    model_run,
    {
        "layout-model-json-not-an-object": (
            "layout-default",
            file_put("model.json", b"[]"),
            "{model}/model.json: is a JSON list",
        ),
        "layout-model-json-without-layers": (
            "layout-default",
            meta_edit(lambda meta: meta.pop("layers")),
            "{model}/model.json: lacks the field 'layers'",
        ),
        "layout-model-json-not-json": (
            "layout-default",
            file_put("model.json", b"{ nope"),
            "{model}/model.json: unreadable",
        ),
        "layout-model-scale-not-a-number": (
            "layout-default",
            meta_edit(lambda meta: meta["architecture"].update(scale=None)),
            "{model}/model.json: describes no network",
        ),
        "layout-weights-of-another-architecture": (
            "layout-default",
            meta_edit(lambda meta: meta["architecture"].update(width=16)),
            OTHER_NET,
        ),
    },
)
table(
    "recognize predict",
    2,
    model_run,
    {
        "recognize-model-json-without-vocabulary": (
            "staff-default",
            meta_edit(lambda meta: meta.pop("vocabulary")),
            "{model}/model.json: lacks the field 'vocabulary'",
        ),
        "recognize-model-of-another-kind": (
            "staff-default",
            meta_edit(lambda meta: meta.update(kind="layout")),
            "is a 'layout' model, not a 'recognizer' model",
        ),
        "recognize-model-spec-not-text": (
            "staff-default",
            meta_edit(lambda meta: meta["architecture"].update(spec=5)),
            "{model}/model.json: describes no recognizer",
        ),
        "recognize-weights-of-another-architecture": (
            "staff-default",
            meta_edit(narrower_lstm),
            OTHER_NET,
        ),
        "recognize-model-without-weights": (
            "staff-default",
            file_put("model.safetensors", None),
            "{model}: not a model directory",
        ),
        "recognize-weights-corrupt": (
            "staff-default",
            file_put("model.safetensors", b"\x08\0\0\0\0\0\0\0{}garbage"),
            "{model}/model.safetensors: unreadable",
        ),
    },
)


def predict_with(inp: Path, out: Path, extra: str, message: str) -> Run:
    """recognize predict of three good snippets and one more list row ``extra``."""
    listing = snippets(inp)
    with listing.open("a") as handle:
        handle.write(extra)
    results = out / "results.tsv"
    return Run(
        ["recognize", "predict", listing, "-m", REPO / "models/staff-default", "-o", results],
        message,
        lambda: len(results.read_text().splitlines()) == 3,
    )


@case("recognize predict", 1)
def recognize_snippet_missing(inp: Path, out: Path) -> Run:
    return predict_with(inp, out, "gone.png\tx\n", re.escape(f"{inp / 'lines/gone.png'}: file"))


@case("recognize predict", 1)
def recognize_snippet_of_one_pixel(inp: Path, out: Path) -> Run:
    inp.mkdir()
    Image.new("L", (1, 1)).save(inp / "dot.png")
    return predict_with(inp, out, f"{inp / 'dot.png'}\n", "snippet is only 1x1 pixels")


@case("recognize predict", 1)
def recognize_snippet_not_an_image(inp: Path, out: Path) -> Run:
    (inp / "lines").mkdir(parents=True)
    (inp / "lines" / "fake.png").write_text("text")
    return predict_with(inp, out, "fake.png\n", re.escape(f"{inp / 'lines/fake.png'}: not a"))


# --- layout training data ----------------------------------------------------------


def pixeljs_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def good_pixeljs(folder: Path, name: str = "good.zip", prefix: str = "") -> Path:
    """A small Pixel.js export: a page, background and one more layer (member names
    behind ``prefix``)."""
    page = Image.new("L", (96, 96), 230)
    background = Image.new("RGBA", (96, 96), (0, 0, 0, 255))
    ink = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    for y in range(40, 46):
        for x in range(10, 86):
            page.putpixel((x, y), 20)
            ink.putpixel((x, y), (255, 0, 0, 255))
            background.putpixel((x, y), (0, 0, 0, 0))
    return pixeljs_zip(
        folder / name,
        {
            f"{prefix}Image.png": png(page),
            f"{prefix}rgba PNG - Layer 0 (Background).png": png(background),
            f"{prefix}rgba PNG - Layer 1.png": png(ink),
        },
    )


def train_run(inp: Path, out: Path, message: str) -> Run:
    good_pixeljs(inp / "zips")
    model = out / "model"
    args = ["--layers", "background", "--layers", "ink", "--steps", "1", "--patch", "64"]
    args += ["--batch-size", "1", "--val-fraction", "0", "--device", "cpu"]
    return Run(
        ["layout", "train", inp / "zips", "-o", model, *args],
        message,
        lambda: (model / "model.json").is_file(),
    )


@case("layout train", 1)
def layout_train_zip_bomb(inp: Path, out: Path) -> Run:
    """A zip whose Image.png inflates to 64 MiB of zeros (a thousandfold)."""
    bomb = inp / "zips" / "bomb.zip"
    bomb.parent.mkdir(parents=True)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("Image.png", "w") as member:
            for _ in range(64):
                member.write(bytes(1 << 20))
        archive.writestr("rgba PNG - Layer 0 (Background).png", b"")
    return train_run(inp, out, re.escape(f"{bomb}:Image.png: compressed") + r" \d+:1")


@case("layout train", 1)
def layout_train_not_a_zip(inp: Path, out: Path) -> Run:
    path = inp / "zips" / "fake.zip"
    path.parent.mkdir(parents=True)
    path.write_text("PK? no")
    return train_run(inp, out, re.escape(f"{path}: not a readable zip"))


@case("layout train", 1)
def layout_train_zip_without_image(inp: Path, out: Path) -> Run:
    path = pixeljs_zip(inp / "zips" / "noimage.zip", {"rgba PNG - Layer 0.png": b""})
    return train_run(inp, out, re.escape(f"{path}: no Image.png"))


@case("layout train", 1)
def layout_train_zip_with_a_layer_gap(inp: Path, out: Path) -> Run:
    blank = png(Image.new("RGBA", (96, 96)))
    path = pixeljs_zip(
        inp / "zips" / "gap.zip",
        {"Image.png": png(Image.new("L", (96, 96))), "rgba PNG - Layer 0.png": blank}
        | {"rgba PNG - Layer 2.png": blank},
    )
    return train_run(inp, out, re.escape(f"{path}: layers must be"))


@case("layout train", 0)
def layout_train_zip_member_traversal(inp: Path, out: Path) -> Run:
    """Member names with ../ are read by their last part, in memory, never extracted."""
    path = good_pixeljs(inp / "zips", "evil.zip", "../../../../")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("../../../../ESCAPED.png", b"x")
    return train_run(inp, out, "^2 of 2 .* done, 0 failed")


# --- lists and results ---------------------------------------------------------------


def split_with(inp: Path, out: Path, row: str, message: str) -> Run:
    listing = snippets(inp)
    listing.write_text(listing.read_text() + row)
    return Run(
        ["split", listing, out, "--val-fraction", "0.5"],
        re.escape(f"{listing}:4: ") + message,
        lambda: sum(len((out / n).read_text().splitlines()) for n in ("train.txt", "val.txt")) == 3,
    )


WEIGHT = "is not a number from 0 to 1"
table(
    "split",
    1,
    split_with,
    {
        "list-weight-letters": ("l0.png\tabc\tabcd\n", f"weight 'abc' {WEIGHT}"),
        "list-weight-nan": ("l0.png\tnan\tabcd\n", f"weight 'nan' {WEIGHT}"),
        "list-weight-negative": ("l0.png\t-1\tabcd\n", f"weight '-1' {WEIGHT}"),
        "list-weight-over": ("l0.png\t2.5\tabcd\n", f"weight '2.5' {WEIGHT}"),
        "list-row-without-transcription": ("l1.png\n", "no transcription"),
        "list-row-with-empty-transcription": ("l1.png\t   \n", "empty transcription"),
    },
)


@case("split", 1)
def list_row_not_utf8(inp: Path, out: Path) -> Run:
    listing = snippets(inp)
    listing.write_bytes(listing.read_bytes() + b"l1.png\tcaf\xe9\n")
    return Run(
        ["split", listing, out],
        re.escape(f"{listing}:4: not UTF-8 (byte 0xe9 at column 11)"),
        lambda: len((out / "train.txt").read_text().splitlines()) >= 2,
    )


@case("recognize train", 1)
def train_list_bad_weight_stays_out_of_the_vocabulary(inp: Path, out: Path) -> Run:
    listing = snippets(inp)
    listing.write_text(listing.read_text() + "l1.png\t2.5\tbbbb\n")
    model = out / "model"

    def vocabulary_clean() -> bool:
        symbols = json.dumps(json.loads((model / "model.json").read_text())["vocabulary"])
        return "2.5" not in symbols and "\\t" not in symbols

    return Run(
        ["recognize", "train", listing, "-o", model, "--epochs", "1", "--device", "cpu"],
        re.escape(f"{listing}:4: weight '2.5' {WEIGHT}"),
        vocabulary_clean,
    )


@case("recognize train", 1)
def train_missing_snippets_counted_once(inp: Path, out: Path) -> Run:
    listing = snippets(inp)
    listing.write_text(listing.read_text() + "gone1.png\tabc\ngone2.png\tcab\n")
    model = out / "model"
    args = ["--epochs", "1", "--val-fraction", "0", "--device", "cpu"]
    return Run(
        ["recognize", "train", listing, "-o", model, *args],
        "^3 of 5 lines done, 2 failed$",
        lambda: (model / "model.json").is_file(),
    )


def merged_work(inp: Path, out: Path) -> tuple[Path, Path]:
    """A work folder out/ with page/page.xml of three lines, and in/results.tsv for
    them; returns the results file and the page."""
    lines = [text_line(f"l{i}", text="") for i in range(3)]
    xml = write_page(out / "page" / "page.xml", "page.png", *lines)
    results = inp / "results.tsv"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text("".join(f"snippets/page/page-l{i}.png\t0.9\tline {i}\n" for i in range(3)))
    return results, xml


def merge_run(inp: Path, out: Path, row: bytes, message: str) -> Run:
    results, xml = merged_work(inp, out)
    results.write_bytes(results.read_bytes() + row)
    return Run(
        ["merge", out, "-r", results],
        re.escape(f"{results}:4: ") + ".*" + message,
        lambda: xml.read_text().count("<Unicode>line ") == 3,
    )


table(
    "merge",
    1,
    merge_run,
    {
        "merge-results-row-not-utf8": (b"snippets/page/page-l9.png\t0.5\t\xff\xfe\n", "not UTF-8"),
        "merge-results-confidence-out-of-range": (b"snippets/page/page-l9.png\t7\tx\n", "'7'"),
        "merge-results-row-repeated": (b"snippets/page/page-l1.png\t0.5\tx\n", "listed already"),
        "merge-results-row-too-short": (b"snippets/page/page-l1.png\n", "expected path<TAB>"),
    },
)


def evaluate_run(inp: Path, out: Path, row: bytes, message: str) -> Run:
    truth = snippets(inp)
    predicted = inp / "results.tsv"
    predicted.write_bytes(
        b"".join(f"l{i}.png\t0.9\t{'abc'[i] * 4}\n".encode() for i in range(3)) + row
    )
    run = Run(["evaluate", "text", predicted, truth], re.escape(f"{predicted}:4: ") + message)
    run.done = lambda: '"lines": 3,' in run.output and '"cer": 0.0,' in run.output
    return run


table(
    "evaluate text",
    1,
    evaluate_run,
    {
        "evaluate-text-row-not-utf8": (b"l3.png\t0.9\t\xc3(\n", "not UTF-8"),
        "evaluate-text-row-without-confidence": (b"l3.png\tabc\n", "expected path<TAB>confidence"),
    },
)


# --- configuration files --------------------------------------------------------------


def config_run(inp: Path, out: Path, text: str, message: str) -> Run:
    make_scan(inp / "scans" / "good.png")
    config = inp / "quire.yaml"
    config.write_text(text)
    return Run(["binarize", inp / "scans", out, "--config", config], message)


@case("configuration", 2)
def config_reports_every_problem(inp: Path, out: Path) -> Run:
    text = "binarise:\n  k: 0.3\nbinarize:\n  windw: 31\n  k: 7\ncut:\n  padding: -3\n"
    config = inp / "quire.yaml"
    run = config_run(inp, out, text, re.escape(f"{config}: unknown section 'binarise'"))

    def all_reported() -> bool:
        return all(
            f"{config}: {problem}" in run.output
            for problem in ("binarize.windw: unknown key", "binarize.k: Input", "cut.padding")
        )

    run.done = all_reported
    return run


table(
    "configuration",
    2,
    config_run,
    {
        "config-not-yaml": ("binarize: [\n", "not valid YAML at line"),
        "config-not-a-mapping": ("- binarize\n", "expected a mapping of stage sections"),
        "config-section-not-a-mapping": ("binarize: 3\n", "section 'binarize' must be a mapping"),
    },
)


# --- scripts ---------------------------------------------------------------------------


def script(name: str, *args: object) -> list[object]:
    return [REPO / "scripts" / name, *args, "--runner", "local"]


@case("inference-pipeline.sh", 2)
def pipeline_input_without_images(inp: Path, out: Path) -> Run:
    (inp / "scans").mkdir(parents=True)
    (inp / "scans" / "notes.txt").write_text("no pictures here\n")
    return Run(
        script("inference-pipeline.sh", inp / "scans", out),
        re.escape(f"{inp / 'scans'}: no images in this folder"),
        lambda: not out.exists(),
    )


@case("inference-pipeline.sh", 2)
def pipeline_output_is_a_file(inp: Path, out: Path) -> Run:
    make_scan(inp / "scans" / "good.png")
    out.write_text("a file\n")
    return Run(
        script("inference-pipeline.sh", inp / "scans", out),
        re.escape(f"{out}: not a folder"),
    )


@case("create-train-data.sh", 2)
def script_create_train_data_output_is_a_file(inp: Path, out: Path) -> Run:
    pages_with(inp)
    out.write_text("a file\n")
    return Run(script("create-train-data.sh", inp, out), re.escape(f"{out}: not a folder"))


@case("train-pipeline.sh", 2)
def script_model_name_leaving_the_folder(inp: Path, out: Path) -> Run:
    listing = snippets(inp)
    shutil.copy(listing, inp / "lines" / "train.txt")
    shutil.copy(listing, inp / "lines" / "val.txt")
    args = ["--train-data", inp / "lines", "--recognizer-name", "../../escaped"]
    return Run(script("train-pipeline.sh", out, *args), "--recognizer-name '../../escaped'")


# --- synthetic data --------------------------------------------------------------------

KERN = "**kern\n*clefG2\n*M4/4\n=1\n4c\n4d\n4e\n4f\n=2\n1g\n==\n*-\n"


def kern_run(inp: Path, out: Path, name: str, data: bytes, message: str, pages: int) -> Run:
    folder = inp / "kern"
    folder.mkdir(parents=True)
    (folder / "good.krn").write_text(KERN)
    (folder / name).write_bytes(data)
    return Run(
        ["synth", "music", out, "--kern-dir", folder, "--dpi", "100"],
        message,
        lambda: len(list((out / "images").glob("*.png"))) == pages,
    )


@case("synth music", 0)
def synth_kern_in_latin1(inp: Path, out: Path) -> Run:
    data = ("!!!OTL: Schön blüht der Mai\n" + KERN).encode("latin-1")
    return kern_run(inp, out, "latin.krn", data, "2 of 2 files done", 2)


@case("synth music", 1)
def synth_kern_not_kern(inp: Path, out: Path) -> Run:
    bad = inp / "kern" / "bad.krn"
    data = b"**kern\t**kern\n4c\n*-\n"
    return kern_run(inp, out, "bad.krn", data, re.escape(f"{bad}: not usable **kern: line 2"), 1)


# --- export and pseudolabels -------------------------------------------------------------


@case("export", 1)
def export_page_not_xml(inp: Path, out: Path) -> Run:
    inp.mkdir()
    write_page(out / "page" / "good.xml", "good.png", text_line("l1", text="line"))
    (out / "page" / "broken.xml").write_text("<PcGts>")
    return Run(
        ["export", inp, out, "--formats", "text"],
        re.escape(f"{out / 'page/broken.xml'}: not well-formed XML"),
        lambda: (out / "export/good.txt").read_text() == "line\n",
    )


@case("pseudolabel", 1)
def pseudolabel_unsafe_line_id(inp: Path, out: Path) -> Run:
    inp.mkdir()
    line = text_line("../../x", text="abc").replace("<TextEquiv>", '<TextEquiv conf="0.9">')
    xml = write_page(out / "page" / "page.xml", "page.png", line)
    return Run(
        ["pseudolabel", out, "-o", out / "pseudo.txt"],
        re.escape(f"{xml}: line id '../../x' is not a plain XML id"),
        lambda: (out / "pseudo.txt").read_text() == "",
    )


# --- the harness --------------------------------------------------------------------------


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def run_case(run: Run) -> tuple[int, str]:
    """Exit status and output of quire (in this process) or of a script."""
    if isinstance(run.args[0], Path) and run.args[0].suffix == ".sh":
        done = subprocess.run(
            [str(a) for a in run.args], capture_output=True, text=True, env=script_environment()
        )
        return done.returncode, done.stdout + done.stderr
    from click.testing import CliRunner

    from quire.cli import cli

    result = CliRunner().invoke(cli, [str(a) for a in run.args])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path):
    case_ = CASES[name]
    inp, out = tmp_path / "in", tmp_path / "out"
    run = case_.setup(inp, out)
    before = digests(inp)
    code, output = run_case(run)
    run.output = output
    assert code == case_.code, output
    assert "Traceback" not in output, output
    said = [line for line in output.splitlines() if not line.startswith(" ")]  # not JSON
    matching = [line for line in said if re.search(run.message, line)]
    assert len(matching) == 1, f"{run.message!r} in:\n{output}"
    assert digests(inp) == before, "an input was changed"
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob(".*.part"))
    assert {p.name for p in tmp_path.iterdir()} <= {"in", "out"}, "written outside out/"
    assert not list(Path("/tmp").glob("quire-escaped*"))
    assert run.done(), output


def test_there_are_sixty_cases_or_more():
    assert len(CASES) >= 60


def test_the_bad_input_page_lists_every_case():
    """docs/bad-input.md: a row per case, with the stage and exit status the case holds."""
    rows = re.findall(
        r"^\| `([a-z0-9-]+)` \| ([^|]+?) \| [^|]+ \| [^|]+ \| (\d) \|$",
        (REPO / "docs" / "bad-input.md").read_text(),
        re.MULTILINE,
    )
    documented = {name: (stage, int(code)) for name, stage, code in rows}
    assert documented == {name: (c.stage, c.code) for name, c in CASES.items()}
