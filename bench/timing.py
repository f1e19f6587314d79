"""Timing helpers shared by the benchmarks: medians of repeated runs, and the device
that the benchmarks which take one run on (``QUIRE_BENCH_DEVICE``: ``cpu``, the
default, or ``cuda``)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def median_seconds(func: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``func`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_device() -> str:
    """The device named by ``QUIRE_BENCH_DEVICE`` (default ``cpu``)."""
    return os.environ.get("QUIRE_BENCH_DEVICE", "cpu")


def device_figures(device: str) -> dict:
    """What the figures were measured on: the device, and the GPU's name or the CPU threads."""
    import torch

    if device.startswith("cuda"):
        return {"device": device, "gpu": torch.cuda.get_device_name(device)}
    return {"device": device, "threads": torch.get_num_threads()}
