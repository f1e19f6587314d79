"""Layer masks on disk: one PNG per layer, alpha 255 where a pixel belongs to it.

This is the Pixel.js / Paco layer format. quire stores each as a two-colour
palette PNG with a transparent index, which every reader sees as RGBA.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quire.io import atomic_save_image

COLOURS = {
    "background": (255, 255, 255),
    "staff": (214, 39, 40),
    "symbols": (31, 119, 180),
    "text": (44, 160, 44),
    "baselines": (255, 127, 14),
}
_SPARE = [(148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34)]


INK_COVERAGE = 127
"""The coverage (of 255) from which a pixel is ink: half is 127.5, and a one-pixel
line on a pixel boundary leaves rows of 127 and 128 that look alike."""


def colour(name: str, index: int) -> tuple[int, int, int]:
    """The colour of a layer: a known name's own, else a spare one by index."""
    return COLOURS.get(name, _SPARE[index % len(_SPARE)])


def exclusive_masks(coverages: list[np.ndarray]) -> list[np.ndarray]:
    """Background and one mask per ink layer from per-layer ink coverage (0…255).

    A pixel is ink where the layers together cover it by ``INK_COVERAGE`` or more,
    and belongs to the layer covering most of it: the rule by which a rendering is
    labelled, so it holds again after the coverages have been warped like the image.
    """
    stack = np.stack(coverages)
    ink = stack.sum(axis=0, dtype=np.uint16) >= INK_COVERAGE
    which = stack.argmax(axis=0)
    return [~ink] + [ink & (which == i) for i in range(len(coverages))]


def save_layer(path: Path, mask: np.ndarray, rgb: tuple[int, int, int]) -> None:
    """Write ``mask`` (nonzero = in the layer) as a layer PNG of colour ``rgb``."""
    from PIL import Image

    layer = Image.fromarray((mask > 0).view(np.uint8), "P")
    layer.putpalette([0, 0, 0, *rgb])
    atomic_save_image(path, layer, compress_level=1, transparency=0)


def read_layer(path: Path) -> np.ndarray:
    """A layer PNG as a boolean mask (alpha 255)."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))[..., 3] == 255
