"""quire layout predict: every pixel of a page labelled, tile by tile.

Memory of the model's device (the GPU, where there is one) holds the page's class
probabilities (classes × H × W) and one batch of tiles.

Tiles overlap; their class probabilities are blended with weights that fall off
linearly towards tile edges, so seams vanish. Output per page:
``layers/<stem>/<layer>.png`` (Pixel.js / Paco layers) and
``layers/<stem>/labels.png`` (the label map: pixel value = layer index).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quire.batch import BatchResult, run_batch
from quire.config import LayoutPredictConfig
from quire.errors import InputError
from quire.io import (
    atomic_save_image,
    atomic_write_bytes,
    atomic_write_text,
    list_images,
    read_image,
)
from quire.layers import colour, save_layer
from quire.models import load_model, load_weights

LABELS = "labels.png"


@dataclass
class LayoutModel:
    net: Any  # LayoutNet
    meta: dict[str, Any]
    device: Any

    @property
    def layers(self) -> list[str]:
        return self.meta["layers"]


def load_layout_model(path: Path, device: str = "auto") -> LayoutModel:
    """Load a layout model directory onto ``device``."""
    import torch

    from quire.layout.model import layout_net
    from quire.models import pick_device

    state, meta = load_model(path, "layout")
    try:
        net = layout_net(len(meta["layers"]), meta["architecture"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(path / "model.json", f"describes no network ({exc!r})") from None
    load_weights(net, state, path)
    target = pick_device(device)
    net = net.to(target, memory_format=torch.channels_last).eval()  # twice as fast on CPUs
    return LayoutModel(net, meta, target)


def _ramp(size: int, overlap: int) -> np.ndarray:
    ramp = np.ones(size, np.float32)
    if overlap:
        edge = np.linspace(1 / (overlap + 1), 1, overlap, dtype=np.float32)
        ramp[:overlap] = edge
        ramp[-overlap:] = edge[::-1]
    return ramp


def _tiling(length: int, tile: int, overlap: int) -> tuple[int, list[int]]:
    """Tile size and starts that cover ``length`` evenly with at least ``overlap``."""
    if length <= tile:
        return length, [0]
    count = -(-(length - overlap) // (tile - overlap))
    size = min(length, (-(-(length + (count - 1) * overlap) // count) + 15) // 16 * 16)
    return size, sorted({round(i * (length - size) / (count - 1)) for i in range(count)})


def predict_probabilities(
    model: LayoutModel, gray: np.ndarray, tile: int = 1024, overlap: int = 64, batch_size: int = 2
) -> np.ndarray:
    """Class probabilities (classes × H × W, float32) of a grayscale page."""
    import torch

    from quire.layout.model import to_input

    height, width = gray.shape
    tile_h, ys = _tiling(height, tile, overlap)
    tile_w, xs = _tiling(width, tile, overlap)
    boxes = [(y, x) for y in ys for x in xs]
    weight = torch.from_numpy(
        np.outer(_ramp(tile_h, min(overlap, tile_h // 2)), _ramp(tile_w, min(overlap, tile_w // 2)))
    ).to(model.device)
    total = torch.zeros((len(model.layers), height, width), device=model.device)
    norm = torch.zeros((height, width), device=model.device)
    with torch.inference_mode():
        for i in range(0, len(boxes), batch_size):
            chunk = boxes[i : i + batch_size]
            batch = torch.cat([to_input(gray[y : y + tile_h, x : x + tile_w]) for y, x in chunk])
            batch = batch.to(model.device, memory_format=torch.channels_last)
            probs = torch.softmax(model.net(batch), dim=1).float()
            for (y, x), p in zip(chunk, probs, strict=True):
                total[:, y : y + tile_h, x : x + tile_w].addcmul_(p, weight)
                norm[y : y + tile_h, x : x + tile_w].add_(weight)
        return total.div_(norm).cpu().numpy()


def write_layers(
    folder: Path, labels: np.ndarray, layers: list[str], colours: list[list[int]] | None = None
) -> None:
    """One layer PNG per layer and the label map."""
    from PIL import Image

    for index, name in enumerate(layers):
        rgb = tuple(colours[index]) if colours else colour(name, index)
        save_layer(folder / f"{name}.png", labels == index, rgb)
    atomic_save_image(folder / LABELS, Image.fromarray(labels.astype(np.uint8), "L"))


def predict_page(path: Path, work: Path, model: LayoutModel, config: LayoutPredictConfig) -> None:
    gray = np.asarray(read_image(path, "L", config.max_pixels))
    smallest = math.ceil(1 / model.net.scale)
    if min(gray.shape) < smallest:
        raise InputError(
            path,
            f"image is {gray.shape[1]}x{gray.shape[0]}, too small for the layout model "
            f"(the smallest it takes is {smallest}x{smallest})",
        )
    probs = predict_probabilities(model, gray, config.tile, config.overlap, config.batch_size)
    labels = probs.argmax(axis=0).astype(np.uint8)
    layers = work / "layers" / path.stem
    write_layers(layers, labels, model.layers, model.meta.get("colours"))
    if config.pixeljs:  # the same PNGs under the names Pixel.js imports
        folder = work / "pixeljs" / path.stem
        for index, name in enumerate(model.layers):
            target = folder / f"rgba PNG - Layer {index}{' (Background)' if index == 0 else ''}.png"
            atomic_write_bytes(target, (layers / f"{name}.png").read_bytes())
        atomic_write_text(folder / "layers.json", json.dumps(dict(enumerate(model.layers))) + "\n")


def predict_layout(
    images: Path, work: Path, model_dir: Path, config: LayoutPredictConfig
) -> BatchResult:
    """Label every image of ``images`` (a folder or one image) into ``work/layers``."""
    paths = [images] if images.is_file() else list_images(images)
    model = load_layout_model(model_dir, config.device)
    return run_batch(
        paths,
        lambda p: predict_page(p, work, model, config),
        description="layout predict",
        name=str,
        noun="page",
    )
