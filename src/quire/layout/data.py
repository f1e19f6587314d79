"""Layout training data: Pixel.js zips and image + layer folders, as label maps.

A sample is a grayscale page and a label map of the same size: the index of the
layer a pixel belongs to, or ``IGNORE`` where nothing is labelled (outside a
Pixel.js selection, or inside it but in no layer). Loss is taken only where a
pixel is labelled.

Pixel.js zips are read in memory by member name (``Image.png``,
``rgba PNG - Layer 0 (Background).png``, ``rgba PNG - Layer N.png``,
``rgba PNG - Selected regions.png``); nothing is extracted to disk. A pixel
belongs to a layer where that layer's alpha is 255.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quire.errors import InputError
from quire.io import read_image

IGNORE = 255
# What one zip member may inflate to, and by how much more than its stored size: a page
# PNG is already compressed (a ratio near 1), a zip bomb inflates a thousandfold.
MAX_MEMBER_BYTES = 256 << 20
MAX_RATIO = 100
_LAYER = re.compile(r"^rgba PNG - Layer (\d+)(?: \(.*\))?\.png$")
_SELECTION = "rgba PNG - Selected regions.png"


@dataclass
class Sample:
    name: str
    image: np.ndarray  # uint8, H×W
    labels: np.ndarray  # uint8, H×W: layer index or IGNORE


def _read(path: str | Path, mode: str, max_pixels: int, data: bytes | None = None) -> np.ndarray:
    return np.asarray(read_image(path, mode, max_pixels, data))


def _combine(
    name: str, image: np.ndarray, layers: list[np.ndarray], selection: np.ndarray | None
) -> Sample:
    labels = np.full(image.shape, IGNORE, np.uint8)
    for index, alpha in enumerate(layers):
        if alpha.shape != image.shape:
            raise InputError(
                name,
                f"layer {index} is {alpha.shape[1]}x{alpha.shape[0]}, the "
                f"image {image.shape[1]}x{image.shape[0]}",
            )
        labels[alpha == 255] = index
    if selection is not None:
        if selection.shape != image.shape:
            raise InputError(name, "the selected regions differ in size from the image")
        labels[selection != 255] = IGNORE
    if (labels == IGNORE).all():
        raise InputError(name, "no labelled pixel (empty selection or empty layers)")
    return Sample(name, image, labels)


def read_pixeljs_zip(path: Path, max_pixels: int) -> tuple[Sample, int]:
    """One Pixel.js export; returns the sample and its number of layers."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(path, f"not a readable zip ({exc})") from None
    with archive:
        names = {Path(n).name: n for n in archive.namelist() if not n.endswith("/")}
        if "Image.png" not in names:
            raise InputError(path, "no Image.png: not a Pixel.js export")
        numbered = sorted((int(m[1]), n) for n in names if (m := _LAYER.match(n)))
        if not numbered or [i for i, _ in numbered] != list(range(len(numbered))):
            raise InputError(path, "layers must be 'rgba PNG - Layer 0 …', 1, 2 … without gaps")
        try:

            def read(member: str, mode: str) -> np.ndarray:
                data = _member_bytes(archive, names[member], f"{path}:{names[member]}")
                return _read(f"{path}:{member}", mode, max_pixels, data)

            image = read("Image.png", "L")
            layers = [read(name, "RGBA")[..., 3] for _, name in numbered]
            selection = read(_SELECTION, "RGBA")[..., 3] if _SELECTION in names else None
        except (zipfile.BadZipFile, KeyError) as exc:
            raise InputError(path, f"corrupt zip member ({exc})") from None
    return _combine(str(path), image, layers, selection), len(layers)


def _member_bytes(archive: zipfile.ZipFile, member: str, name: str) -> bytes:
    """A zip member's bytes, refused before inflating when it would be too large."""
    info = archive.getinfo(member)
    if info.file_size > MAX_MEMBER_BYTES:
        raise InputError(
            name, f"inflates to {info.file_size} bytes, over the limit of {MAX_MEMBER_BYTES}"
        )
    if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        raise InputError(name, f"compressed {ratio}:1, over {MAX_RATIO}:1 (a zip bomb?)")
    with archive.open(info) as handle:  # reads no more than the declared size
        return handle.read()


def read_layer_folder(root: Path, stem: str, layers: list[str], max_pixels: int) -> Sample:
    """``root/images/<stem>.png`` with ``root/layers/<stem>/<layer>.png`` (quire synth)."""
    image_path = next((p for p in sorted((root / "images").glob(f"{stem}.*"))), None)
    if image_path is None:
        raise InputError(root / "images" / stem, "no image for these layers")
    image = _read(image_path, "L", max_pixels)
    alphas = [
        _read(root / "layers" / stem / f"{name}.png", "RGBA", max_pixels)[..., 3] for name in layers
    ]
    return _combine(str(image_path), image, alphas, None)


def find_samples(inputs: list[Path]) -> list[tuple[str, Path, str | None]]:
    """What to read: ("zip", path, None) or ("folder", root, stem) per sample."""
    found: list[tuple[str, Path, str | None]] = []
    for path in inputs:
        if path.is_file() and path.suffix.lower() == ".zip":
            found.append(("zip", path, None))
        elif path.is_dir() and (path / "layers").is_dir():
            found += [
                ("folder", path, d.name) for d in sorted((path / "layers").iterdir()) if d.is_dir()
            ]
        elif path.is_dir():
            found += [("zip", p, None) for p in sorted(path.glob("*.zip"))]
        else:
            raise InputError(path, "neither a Pixel.js zip nor a folder with layers/")
    return found
