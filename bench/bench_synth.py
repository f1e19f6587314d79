"""Synthetic 300 dpi A4 music pages per second on one core, clean and degraded."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

PAGES = 8


def _seconds_per_page(degraded: bool) -> list[float]:
    from quire.config import SynthMusicConfig
    from quire.synth.music import synth_page

    chance = 1.0 if degraded else 0.0
    config = SynthMusicConfig(seed=42, scan_chance=chance, camera_chance=chance)
    times = []
    with tempfile.TemporaryDirectory() as folder:
        synth_page(PAGES, Path(folder), config)  # warm-up: imports, fonts
        for index in range(PAGES):
            start = time.perf_counter()
            synth_page(index, Path(folder), config)
            times.append(time.perf_counter() - start)
    return times


def run() -> dict:
    import cv2

    os.environ["OMP_NUM_THREADS"] = "1"
    cv2.setNumThreads(1)  # one core: the figure is per core
    figures = {
        "page": "A4 at 300 dpi (2480x3508), generated music, mixed kinds",
        "pages_measured": PAGES,
    }
    for name, degraded in (("clean", False), ("degraded", True)):
        median = statistics.median(_seconds_per_page(degraded))
        figures[f"{name}_median_seconds_per_page"] = round(median, 3)
        figures[f"{name}_pages_per_second_per_core"] = round(1 / median, 3)
    return figures
