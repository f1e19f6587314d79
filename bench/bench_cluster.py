"""Batch inference on Slurm (scripts/cluster-inference.sh, 4 shards) against one local
run of scripts/inference-pipeline.sh on the same generated pages: pages per minute of
each, measured in the same run, and their ratio. Needs a Slurm cluster that answers
(`.ci/slurm up` starts a one-node one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = 24
SHARDS = 4
SEED = 9002


def timed(command: list[str]) -> float:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "QUIRE_RUNNER": "local",
    }
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode not in (0, 1):  # 1: some lines could not be read; the run went on
        raise RuntimeError(f"{command[0]} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - start


def run() -> dict:
    from quire.config import SynthMusicConfig
    from quire.synth.music import synth_music

    if not shutil.which("sbatch"):
        raise RuntimeError("no Slurm here: .ci/slurm up starts a one-node cluster (as root)")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        synth_music(
            data,
            SynthMusicConfig(
                pages=PAGES, seed=SEED, kind="monophonic", encoding="bekern", max_systems=6
            ),
        )
        images, scripts = str(data / "images"), REPO / "scripts"
        local = timed([str(scripts / "inference-pipeline.sh"), images, f"{folder}/local"])
        slurm = [images, f"{folder}/slurm", "--wait", "--shards", str(SHARDS)]
        cluster = timed([str(scripts / "cluster-inference.sh"), *slurm])
        cpus = subprocess.run(["sinfo", "-h", "-o", "%C"], capture_output=True, text=True)
    return {
        "pages": f"{PAGES} generated monophonic pages, 300 dpi, seed {SEED}; shipped models",
        "cluster": f"one-node Slurm, CPUs allocated/idle/other/total {cpus.stdout.strip()}",
        "local": {"seconds": round(local, 1), "pages_per_minute": round(60 * PAGES / local, 2)},
        f"slurm_{SHARDS}_shards": {
            "seconds": round(cluster, 1),
            "pages_per_minute": round(60 * PAGES / cluster, 2),
        },
        "slurm_to_local_speed_ratio": round(local / cluster, 3),
    }
