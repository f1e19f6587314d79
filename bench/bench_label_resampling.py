"""How far the labels of a scaled and rotated training patch are from the truth.

Patches of anti-aliased staff lines 1.3–1.8 pixels wide (as ``quire synth`` draws
them at 300 dpi) are moved by the layout trainer's scale-and-rotation
augmentation. The moved label masks are scored (staff F1) against the labels of
the moved ink coverage, which is how ``quire synth`` labels a warped page.
"""

from __future__ import annotations

import numpy as np

PATCHES = 40
SIZE = 384
SUPERSAMPLING = 8


def _staff_lines(rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (0…255) of slightly sloped lines of random width and phase."""
    fine = SIZE * SUPERSAMPLING
    rows = np.arange(fine)[:, None] / SUPERSAMPLING
    columns = np.arange(fine)[None, :] / SUPERSAMPLING
    slope = rng.uniform(-0.02, 0.02)
    ink = np.zeros((fine, fine), bool)
    top = 10.0
    while top < SIZE - 10:
        width = rng.uniform(1.33, 1.77)
        centre = top + slope * columns
        ink |= (rows >= centre - width / 2) & (rows < centre + width / 2)
        top += rng.uniform(9, 12)
    cover = ink.reshape(SIZE, SUPERSAMPLING, SIZE, SUPERSAMPLING).mean(axis=(1, 3))
    return (cover * 255).astype(np.uint8)


def run() -> dict:
    from quire.layers import exclusive_masks
    from quire.layout.train import _augmenter

    rng = np.random.default_rng(0)
    augment = _augmenter(seed=0, affine=1.0)
    inner = (slice(20, -20), slice(20, -20))  # away from the fill at the borders
    scores = []
    for _ in range(PATCHES):
        coverage = _staff_lines(rng)
        labels = exclusive_masks([coverage])[1].view(np.uint8) * 255
        moved = augment(image=255 - coverage, masks=[labels, coverage])["masks"]
        resampled, truth = moved[0][inner] >= 128, exclusive_masks([moved[1]])[1][inner]
        both = int((resampled & truth).sum())
        scores.append(2 * both / (int(resampled.sum()) + int(truth.sum())))
    return {
        "patches": PATCHES,
        "line_width_px": [1.33, 1.77],
        "augmentation": "quire.layout.train's scale and rotation (affine 1)",
        "median_staff_f1_of_resampled_labels": round(float(np.median(scores)), 4),
        "min_staff_f1_of_resampled_labels": round(float(min(scores)), 4),
    }
