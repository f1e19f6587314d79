"""The whole inference pipeline (scripts/inference-pipeline.sh, shipped models, local
runner) on held-out generated music pages: pages per minute and peak memory for 10,
30 and 100 pages, and the staff SER / text CER of every page against its truth.

Peak memory is bounded by a recognizer's chunk of lines (4 batches) and by the
columns of one batch (`recognize-predict` `batch_columns`), so it rises until a run
has a full batch of its widest lines and stays flat after, whatever the lines."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = (10, 30, 100)
SEED = 9001  # not a seed of the shipped models' training data (configs/*.yaml)

# Runs COMMAND and prints the peak resident memory (KiB) of its largest process.
PEAK = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)"
)


def timed_run(images: Path, out: Path) -> tuple[float, int]:
    """Seconds and peak KiB of one pipeline run (lines that failed are counted later)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [str(REPO / "scripts" / "inference-pipeline.sh"), str(images), str(out)]
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", PEAK, *command, "--runner", "local"],
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.perf_counter() - start
    if run.returncode not in (0, 1):  # 1: some lines failed, the run went on
        raise RuntimeError(f"inference pipeline failed: {run.stderr[-2000:]}")
    return seconds, int(run.stdout.split()[-1])


def run() -> dict:
    from quire.config import SynthMusicConfig
    from quire.evaluate import page_scores
    from quire.synth.music import synth_music

    figures: dict = {
        "pages": f"generated monophonic pages, 300 dpi, bekern, seed {SEED}, lyrics and titles",
        "models": sorted(p.name for p in (REPO / "models").iterdir() if p.is_dir()),
    }
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        synth_music(
            data,
            SynthMusicConfig(
                pages=max(PAGES), seed=SEED, kind="monophonic", encoding="bekern", max_systems=6
            ),
        )
        images = sorted((data / "images").iterdir())
        for count in PAGES:
            subset = Path(folder) / f"images-{count}"
            subset.mkdir()
            for image in images[:count]:
                shutil.copy(image, subset)
            out = Path(folder) / f"out-{count}"
            seconds, peak = timed_run(subset, out)
            figures[f"{count}_pages"] = {
                "seconds": round(seconds, 1),
                "pages_per_minute": round(60 * count / seconds, 2),
                "peak_memory_mib": round(peak / 1024, 1),
            }
        peaks = {count: figures[f"{count}_pages"]["peak_memory_mib"] for count in PAGES}
        figures["peak_memory_ratio_100_to_30"] = round(peaks[100] / peaks[30], 3)
        figures["peak_memory_ratio_100_to_10"] = round(peaks[100] / peaks[10], 3)
        report = page_scores(out / "page", data / "page")
    pages = report["per_page"]
    per_page = {n: p["staff_ser"] for n, p in pages.items() if p["staff_ser"] is not None}
    staff_ser = list(per_page.values())
    text_cer = [p["text_cer"] for p in pages.values() if p["text_cer"] is not None]
    figures["accuracy"] = {
        "staff_ser": round(report["staves"]["ser"], 4),
        "staff_ser_median_page": round(statistics.median(staff_ser), 4),
        "staff_ser_worst_page": round(max(staff_ser), 4),
        "pages_with_staff_ser_at_most_2_percent": sum(s <= 0.02 for s in staff_ser),
        "pages_above_2_percent": {n: round(s, 4) for n, s in per_page.items() if s > 0.02},
        "text_cer": round(report["text"]["ser"], 4),
        "text_cer_median_page": round(statistics.median(text_cer), 4) if text_cer else None,
        "staves": report["staves"]["lines"],
        "text_lines": report["text"]["lines"],
    }
    return figures
