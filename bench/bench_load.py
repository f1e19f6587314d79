"""Throughput of recognition and layout beside a competing CPU-bound process.

Cluster nodes and CI machines are shared. Each workload runs in a fresh process,
as ``quire`` sets itself up (``quire.cpus``: as many threads as the CPUs the process
may use that are idle when the model is loaded), once on an idle machine and once
while another process keeps one core busy; the same twice more with torch's own
setting (a thread per core), which is what quire did before. The
shipped staff model reads the staves of two synthetic pages at 150 dpi in batches
of 16; the shipped layout model labels one A4 page at 300 dpi; medians of three.
The bar: loaded throughput at least 40 % of idle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKLOADS = ("recognize", "layout")
BUSY = "while True: pass"


def workload(kind: str, data: Path) -> float:
    """Items a second (staves or pages) of one workload in this process, median of three."""
    import numpy as np

    from bench.reading import snippets_per_second
    from bench.timing import median_seconds
    from quire.io import read_image

    if kind == "recognize":
        from quire.lists import read_list
        from quire.recognize.predict import RecognizerModel

        model = RecognizerModel.load(REPO / "models" / "staff-default", "cpu")
        entries, _ = read_list(data / "lists" / "staves-gt.txt")
        return snippets_per_second(model, [e.path for e in entries], 16)
    from quire.layout.predict import load_layout_model, predict_probabilities

    model = load_layout_model(REPO / "models" / "layout-default", "cpu")
    page = np.asarray(read_image(next((data / "page" / "images").glob("*.png"))))
    return 1 / median_seconds(lambda: predict_probabilities(model, page), 3)


def measure(kind: str, data: Path, quire_threads: bool, busy: bool) -> dict:
    """Run one workload in a fresh process, beside a busy process when ``busy``."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "QUIRE_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    command = [sys.executable, "-m", "bench.bench_load", kind, str(data)]
    competitor = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
    try:
        time.sleep(0.5 if busy else 0)
        out = subprocess.run(
            [*command, "quire" if quire_threads else "torch"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare(folder: Path) -> None:
    """Staves (two pages at 150 dpi, cut) and one A4 page at 300 dpi."""
    from bench.bench_recognize import rendered_staves
    from quire.config import SynthMusicConfig
    from quire.synth.music import synth_page

    rendered_staves(folder, SynthMusicConfig(pages=2, dpi=150, kind="monophonic", seed=5))
    synth_page(0, folder / "page", SynthMusicConfig(dpi=300, kind="mixed", seed=6))


def run() -> dict:
    figures: dict = {"cpus": os.cpu_count(), "competing_processes": 1}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        prepare(data)
        for kind in WORKLOADS:
            for setting in ("quire", "torch"):
                idle = measure(kind, data, setting == "quire", busy=False)
                loaded = measure(kind, data, setting == "quire", busy=True)
                figures[f"{kind}_{setting}"] = {
                    "threads_idle": idle["threads"],
                    "threads_loaded": loaded["threads"],
                    "idle_per_second": round(idle["rate"], 3),
                    "loaded_per_second": round(loaded["rate"], 3),
                    "loaded_share_of_idle": round(loaded["rate"] / idle["rate"], 3),
                }
    figures["unit"] = {"recognize": "staves", "layout": "pages"}
    return figures


def main(kind: str, data: str, setting: str) -> None:
    """One measurement, as its own process: quire's thread settings or torch's own (a
    thread per core, fixed)."""
    from quire.cpus import use_threads

    use_threads(None if setting == "quire" else os.cpu_count())
    import torch

    rate = workload(kind, Path(data))
    print(json.dumps({"rate": rate, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main(*sys.argv[1:])
