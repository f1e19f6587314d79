"""Line data for recognizers: snippets scaled to the model height, batches.

Snippets are read once, scaled to the network's input height and kept in memory
as 8-bit images; batches are formed from lines of similar width so that little
of a batch is padding.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quire.errors import InputError
from quire.io import read_image
from quire.models import ink

if TYPE_CHECKING:
    import torch

BUCKET_BATCHES = 32  # batches drawn together and sorted by width when forming batches


def load_line(path: Path, height: int, max_width: int) -> np.ndarray:
    """A snippet as 8-bit grayscale scaled to ``height`` (aspect kept)."""
    import cv2

    image = np.asarray(read_image(path, "L"))
    h, w = image.shape
    if h < 2 or w < 2:
        raise InputError(path, f"snippet is only {w}x{h} pixels")
    width = max(1, round(w * height / h))
    if width > max_width:
        raise InputError(path, f"snippet is {width} px wide at height {height}, over {max_width}")
    interpolation = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def to_batch(images: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad lines to the widest (white) and return N×1×H×W ink (1 = black) and widths."""
    import torch

    widths = [image.shape[1] for image in images]
    batch = np.full((len(images), 1, images[0].shape[0], max(widths)), 255, np.uint8)
    for i, image in enumerate(images):
        batch[i, 0, :, : image.shape[1]] = image
    return ink(batch), torch.tensor(widths)


def width_batches(
    widths: list[int],
    batch_size: int,
    rng: random.Random | None = None,
    max_columns: int | None = None,
) -> Iterator[list[int]]:
    """Indices in batches of similar width; shuffled (groups, then batches) when ``rng``.

    Unshuffled batches, narrowest first, also close before lines × the widest line
    would pass ``max_columns`` (a line wider than that is a batch of its own).
    """
    order = list(range(len(widths)))
    if rng is None:
        batch: list[int] = []
        for i in sorted(order, key=lambda i: widths[i]):
            wide = max_columns is not None and (len(batch) + 1) * widths[i] > max_columns
            if batch and (len(batch) == batch_size or wide):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch
        return
    rng.shuffle(order)
    group = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start : start + group], key=lambda i: widths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    yield from batches


def line_augmenter(seed: int) -> object:
    """Augmentation of line images (albumentations): geometry, ink, paper, camera."""
    import albumentations as A

    return A.Compose(
        [
            A.Affine(
                scale=(0.9, 1.05),
                translate_percent={"x": (0, 0), "y": (-0.04, 0.04)},
                rotate=(-1, 1),
                shear={"x": (-5, 5), "y": (0, 0)},
                border_mode=0,
                fill=255,
                p=0.6,
            ),
            A.OneOf(
                [
                    A.Morphological(scale=(2, 2), operation="erosion"),
                    A.Morphological(scale=(2, 2), operation="dilation"),
                ],
                p=0.2,
            ),
            A.RandomBrightnessContrast(0.25, 0.3, p=0.5),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 3)), A.MotionBlur(blur_limit=(3, 5))], p=0.3),
            A.GaussNoise(std_range=(0.02, 0.08), p=0.3),
            A.ImageCompression(quality_range=(40, 90), p=0.2),
        ],
        seed=seed,
    )
