"""Seconds per 300 dpi A4 page for layout prediction: quire against a Paco-style baseline.

quire: one multi-class UNet at half resolution with a full-resolution refinement,
tiled (at most 1024 px, 64 px overlap). Baseline, as Paco classifies: one binary UNet per
layer (same depth and width) at full resolution over 256 px windows with a
stride of 205 px. Both run in this process on the same page; the figures are
medians of three runs. With a trained model in models/layout-default, its
validation F1 is reported too. ``QUIRE_BENCH_DEVICE=cuda`` times both on a GPU
(bench/timing.py), and pages per second are given beside the seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "models" / "layout-default"
WINDOW, STRIDE = 256, 205


def _page(folder: Path, seed: int, degraded: bool) -> Path:
    from quire.config import SynthMusicConfig
    from quire.synth.music import synth_page

    chance = 1.0 if degraded else 0.0
    config = SynthMusicConfig(seed=seed, scan_chance=chance, camera_chance=chance / 2)
    return folder, synth_page(0, folder, config)


def _paco_style(nets: list, gray: np.ndarray, device: str) -> np.ndarray:
    import torch

    from quire.layout.model import to_input

    height, width = gray.shape
    ys = sorted({*range(0, height - WINDOW, STRIDE), height - WINDOW})
    xs = sorted({*range(0, width - WINDOW, STRIDE), width - WINDOW})
    scores = np.zeros((len(nets), height, width), np.float32)
    with torch.inference_mode():
        for y in ys:
            batch = torch.cat([to_input(gray[y : y + WINDOW, x : x + WINDOW]) for x in xs])
            batch = batch.to(device, memory_format=torch.channels_last)
            for k, net in enumerate(nets):
                out = torch.softmax(net(batch), dim=1)[:, 1].cpu().numpy()
                for x, window in zip(xs, out, strict=True):
                    scores[k, y : y + WINDOW, x : x + WINDOW] = window
    return scores.argmax(0)


def run() -> dict:
    import torch

    from bench.timing import bench_device, device_figures, median_seconds
    from quire.layout.model import LayoutNet, UNet
    from quire.layout.predict import LayoutModel, load_layout_model, predict_probabilities

    device = bench_device()
    if DEFAULT_MODEL.exists():
        model = load_layout_model(DEFAULT_MODEL, device)
    else:
        net = LayoutNet(4).to(device, memory_format=torch.channels_last).eval()
        model = LayoutModel(
            net, {"layers": ["background", "staff", "symbols", "text"]}, torch.device(device)
        )
    arch = model.net.architecture
    baseline = [
        UNet(2, arch["depth"], arch["width"]).to(device, memory_format=torch.channels_last).eval()
        for _ in model.layers
    ]  # the same memory layout as quire's net, for fairness
    with tempfile.TemporaryDirectory() as folder:
        from PIL import Image

        _, stem = _page(Path(folder), 7, degraded=False)
        gray = np.asarray(Image.open(Path(folder) / "images" / f"{stem}.png"))
        quire_s = median_seconds(lambda: predict_probabilities(model, gray), 3)
        paco_s = median_seconds(lambda: _paco_style(baseline, gray, device), 3)
    figures = {
        "page": f"A4 at 300 dpi ({gray.shape[1]}x{gray.shape[0]})",
        **device_figures(device),
        "architecture": arch,
        "quire_median_seconds_per_page": round(quire_s, 3),
        "paco_style_median_seconds_per_page": round(paco_s, 3),
        "quire_pages_per_second": round(1 / quire_s, 2),
        "paco_style_pages_per_second": round(1 / paco_s, 2),
        "speedup": round(paco_s / quire_s, 2),
        "paco_style": f"{len(baseline)} binary UNets, {WINDOW} px windows, stride {STRIDE}",
    }
    if DEFAULT_MODEL.exists():
        figures["model"] = str(DEFAULT_MODEL.relative_to(REPO))
        figures["model_validation"] = model.meta.get("metrics", {})
    return figures
