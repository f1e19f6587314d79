"""Background removal: Sauvola threshold to an RGBA PNG with a transparent background.

The output is what Pixel.js takes as its image (ink keeps its colour, background is
transparent); the optional empty layer is a fully transparent PNG of the same size
for labelling from scratch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from quire.batch import BatchResult, run_batch
from quire.config import BinarizeConfig
from quire.errors import InputError
from quire.io import IMAGE_SUFFIXES, atomic_save_image, list_images, read_image

EMPTY_LAYER_SUFFIX = "-empty-layer.png"


def ink_mask(gray: np.ndarray, window: int, k: float) -> np.ndarray:
    """``True`` where a grayscale page has ink, by Sauvola's local threshold."""
    from skimage.filters import threshold_sauvola

    window = window if window % 2 else window + 1
    return gray < threshold_sauvola(gray, window_size=window, k=k)


def binarize_image(path: Path, output_dir: Path, config: BinarizeConfig) -> Path:
    """Write ``<output_dir>/<stem>.png`` (and the empty layer) for one image."""
    rgb = np.asarray(read_image(path, "RGB", config.max_pixels))
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    alpha = np.where(ink_mask(gray, config.window, config.k), 255, 0).astype(np.uint8)
    target = output_dir / f"{path.stem}.png"
    atomic_save_image(target, Image.fromarray(np.dstack([rgb, alpha]), "RGBA"))
    if config.empty_layer:
        empty = Image.new("RGBA", (rgb.shape[1], rgb.shape[0]), (0, 0, 0, 0))
        atomic_save_image(output_dir / f"{path.stem}{EMPTY_LAYER_SUFFIX}", empty)
    return target


def binarize(input_path: Path, output_dir: Path, config: BinarizeConfig) -> BatchResult:
    """Binarize one image or every image of a folder into ``output_dir``."""
    if input_path.is_file():
        if input_path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(input_path, "not an image file (by its suffix)")
        images = [input_path]
    else:
        images = list_images(input_path)
    folder = input_path.resolve() if input_path.is_dir() else input_path.resolve().parent
    target = output_dir.resolve()
    if target == folder or (input_path.is_dir() and target.is_relative_to(folder)):
        raise InputError(
            output_dir,
            f"is inside the input folder {folder}; inputs are never overwritten, choose another",
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    return run_batch(
        images, lambda p: binarize_image(p, output_dir, config), description="binarize", name=str
    )
