"""Seconds per 300 dpi A4 page for Sauvola background removal."""

from __future__ import annotations

import tempfile
from pathlib import Path

A4_300DPI = (2480, 3508)


def run() -> dict:
    from PIL import Image, ImageDraw

    from bench.timing import median_seconds
    from quire.binarize import binarize_image
    from quire.config import BinarizeConfig

    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "page.png"
        image = Image.new("RGB", A4_300DPI, (228, 220, 200))
        draw = ImageDraw.Draw(image)
        for y in range(200, A4_300DPI[1] - 200, 60):
            draw.line((150, y, A4_300DPI[0] - 150, y), fill=(30, 30, 30), width=3)
        image.save(page)
        config = BinarizeConfig()
        seconds = median_seconds(lambda: binarize_image(page, Path(folder) / "out", config), 3)
    return {
        "page": "A4 at 300 dpi (2480x3508)",
        "median_seconds_per_page": round(seconds, 3),
        "pages_per_second": round(1 / seconds, 3),
        "config": config.model_dump(),
    }
