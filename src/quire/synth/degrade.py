"""Scan-like and camera-like degradations, applied to a page, its masks and its geometry.

Built on albumentations: geometric transforms move the image, the ink coverage of
every layer and every polygon point together, so ground truth stays exact. The
coverages are interpolated as the image is and labelled afterwards by the rule that
labels a rendering (``quire.layers.exclusive_masks``), so a warped thin staff line
keeps the width its pixels show. Two effects are done here:

- bleed-through (ink of the other side showing through), which albumentations
  lacks: the page mirrored, blurred and faintly multiplied in;
- the paper warp: albumentations' non-affine warps either drop keypoints
  (GridDistortion, ThinPlateSpline) or take 27–37 s per 300 dpi page to move
  1,000 of them (OpticalDistortion, ElasticTransform); a smooth random
  displacement field whose inverse is found by fixed-point iteration moves the
  same points in milliseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quire.layers import exclusive_masks

if TYPE_CHECKING:
    import albumentations as A

    from quire.config import DegradeConfig


def _pipeline(config: DegradeConfig, scan: bool, camera: bool, seed: int) -> A.Compose:
    import albumentations as A
    import cv2

    steps = []
    if camera:
        steps += [
            A.Perspective(
                scale=(0.01, 0.05),
                fit_output=True,
                border_mode=0,
                fill=255,
                fill_mask=0,
                mask_interpolation=cv2.INTER_LINEAR,
                p=config.perspective,
            ),
            A.Rotate(
                limit=config.max_rotation,
                border_mode=0,
                fill=255,
                fill_mask=0,
                mask_interpolation=cv2.INTER_LINEAR,
                p=config.rotation,
            ),
            A.Illumination(mode="linear", intensity_range=(0.05, 0.2), p=config.uneven_light),
        ]
    if scan:
        steps += [
            A.PlasmaBrightnessContrast(
                brightness_range=(-0.1, 0.1), contrast_range=(-0.2, 0.1), p=config.texture
            ),
            A.RandomBrightnessContrast(
                brightness_limit=0.15, contrast_limit=0.25, p=config.contrast
            ),
            A.GaussianBlur(blur_limit=(3, 5), p=config.blur),
        ]
        if config.ink_wear:  # thinner or thicker strokes, as worn type and spread ink print
            steps.append(
                A.OneOf(
                    [
                        A.Morphological(scale=(2, 2), operation="dilation"),
                        A.Morphological(scale=(2, 2), operation="erosion"),
                    ],
                    p=config.ink_wear,
                )
            )
        steps += [
            A.GaussNoise(std_range=(0.02, 0.08), p=config.noise),
            A.SaltAndPepper(amount=(0.0005, 0.003), p=config.salt_pepper),
            A.ImageCompression(quality_range=(30, 85), p=config.jpeg),
        ]
    keypoints = A.KeypointParams(format="xy", remove_invisible=False, check_each_transform=False)
    return A.Compose(steps, keypoint_params=keypoints if camera else None, seed=seed)


def bleed_through(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror the page, blur it and multiply a faint copy in, as ink seen through paper."""
    import cv2

    back = cv2.GaussianBlur(np.ascontiguousarray(image[:, ::-1]), (0, 0), 3)
    strength = rng.uniform(0.1, 0.3)
    shadow = 1.0 - strength * (1.0 - back.astype(np.float32) / 255.0)
    return (image.astype(np.float32) * shadow).astype(np.uint8)


def paper_warp(
    image: np.ndarray,
    coverages: list[np.ndarray],
    points: np.ndarray,
    rng: np.random.Generator,
    strength: float = 0.006,
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Bend the page by a smooth random field (``strength`` × page size at most)."""
    import cv2

    height, width = image.shape[:2]
    amplitude = strength * max(height, width)
    field = [
        cv2.resize(
            rng.uniform(-amplitude, amplitude, (4, 3)).astype(np.float32),
            (width, height),
            interpolation=cv2.INTER_CUBIC,
        )
        for _ in range(2)
    ]
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    map_x, map_y = grid_x + field[0], grid_y + field[1]
    image = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderValue=255)
    coverages = [cv2.remap(c, map_x, map_y, cv2.INTER_LINEAR, borderValue=0) for c in coverages]
    moved = points.copy()
    for _ in range(4):  # output q shows input q + D(q); solve q = p - D(q)
        col = np.clip(np.rint(moved[:, 0]), 0, width - 1).astype(int)
        row = np.clip(np.rint(moved[:, 1]), 0, height - 1).astype(int)
        moved = points - np.stack([field[0][row, col], field[1][row, col]], axis=1)
    return image, coverages, moved


def degrade(
    image: np.ndarray,
    coverages: list[np.ndarray],
    points: np.ndarray,
    config: DegradeConfig,
    seed: int,
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Degrade a grayscale page whose ink layers cover it by ``coverages`` (0…255 each);
    return the new image, the exclusive masks (background first) and points (N×2, x y)."""
    rng = np.random.default_rng(seed)
    scan = rng.random() < config.scan_chance
    camera = rng.random() < config.camera_chance
    if not (scan or camera):
        return image, exclusive_masks(coverages), points
    if scan and rng.random() < config.bleed_through:
        image = bleed_through(image, rng)
    targets = {"keypoints": points.astype(np.float32).reshape(-1, 2)} if camera else {}
    out = _pipeline(config, scan, camera, seed)(image=image, masks=coverages, **targets)
    image, coverages = out["image"], list(out["masks"])
    if camera:
        points = np.asarray(out["keypoints"], dtype=np.float64).reshape(-1, 2)
    if camera and rng.random() < config.warp:
        image, coverages, points = paper_warp(image, coverages, points, rng)
    return image, exclusive_masks(coverages), points
