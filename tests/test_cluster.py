"""Slurm: batch inference as an array job of shards, and DDP training under srun.

The Slurm tests need a cluster that answers (`.ci/slurm up` starts a one-node one
as root); without one they are skipped.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_same_outputs, quire, script_environment

SCRIPT = REPO / "scripts" / "cluster-inference.sh"
EPOCH = "1700000000"


def slurm_answers() -> bool:
    if not shutil.which("sinfo"):
        return False
    done = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    return done.returncode == 0 and bool(re.search(r"idle|mix|alloc", done.stdout))


needs_slurm = pytest.mark.skipif(
    not slurm_answers(), reason="no Slurm cluster answers (as root, .ci/slurm up starts one)"
)


def environment() -> dict[str, str]:
    return script_environment(SOURCE_DATE_EPOCH=EPOCH, OMP_NUM_THREADS="1")


def cluster(*args: object, **kwargs: object) -> subprocess.CompletedProcess:
    command = [str(SCRIPT), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=environment(), **kwargs)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("cluster") / "data"
    quire(
        *("synth", "music", data, "--pages", "12", "--kind", "monophonic"),
        *("--max-systems", "2", "--seed", "21", "--dpi", "200"),
    )
    return data / "images"


def test_dry_run_shows_the_array_and_the_gather_job(images, tmp_path):
    out = tmp_path / "out"
    done = cluster(
        images, out, "--shards", "5", "--gpus-per-task", "1", "--partition", "gpu",
        "--sbatch-arg=--account=lab", "--dry-run", "--", "--keep-work",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    array, gather = (
        " ".join(shlex.split(line))
        for line in done.stdout.splitlines()
        if line.startswith("sbatch")
    )
    assert "--array 0,1,2,3,4" in array and "--gpus-per-task 1" in array
    assert "--partition gpu" in array and "--account=lab" in array
    assert "slurm/shard.sh" in array and "--keep-work" in array
    assert "--dependency afterany:JOB" in gather and "slurm/gather.sh" in gather
    assert not out.exists()  # a dry run writes nothing
    bad = cluster(images, out, "--shards", "0")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--shards" in bad.stderr


@needs_slurm
def test_shards_on_slurm_equal_one_local_run_after_a_killed_task(images, tmp_path):
    out = tmp_path / "slurm"
    run = subprocess.Popen(
        [str(SCRIPT), str(images), str(out), "--shards", "4", "--runner", "local"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    array, gather = stdout.split()
    started = out / "shards" / "000" / "run" / "logs" / "extract.log"
    deadline = time.monotonic() + 300
    while not started.exists():  # kill shard 0 in the middle of its pipeline
        assert time.monotonic() < deadline, "shard 0 did not start"
        time.sleep(0.2)
    subprocess.run(["scancel", f"{array}_0"], check=True)
    while subprocess.run(["squeue", "-h", "-j", gather], capture_output=True).stdout.strip():
        assert time.monotonic() < deadline + 600, "the gather job did not run"
        time.sleep(1)
    failed = (out / "failed-pages.txt").read_text().splitlines()
    assert failed and {line.split("\t")[0] for line in failed} == {"0"}
    assert "3 done" not in (out / "summary.txt").read_text()

    again = cluster(images, out, "--shards", "4", "--runner", "local", "--wait", timeout=900)
    assert again.returncode == 0, again.stderr
    assert "1 of 4 shards submitted" in again.stderr
    assert (out / "failed-pages.txt").read_text() == ""
    assert "12 pages in 4 shards: 12 done, 0 failed" in (out / "summary.txt").read_text()

    local = tmp_path / "local"
    command = [str(REPO / "scripts" / "inference-pipeline.sh"), str(images), str(local)]
    done = subprocess.run([*command, "--runner", "local"], capture_output=True, env=environment())
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: a staff could not be read
    assert_same_outputs(out, local)
    assert sorted(images.iterdir()) == sorted(p for p in images.iterdir())  # untouched


@needs_slurm
def test_layout_training_with_two_srun_tasks_gives_a_loadable_model(tmp_path):
    import torch

    pages = tmp_path / "pages"
    quire("synth", "music", pages, "--pages", "2", "--dpi", "100", "--max-systems", "2")
    model = tmp_path / "model"
    command = [
        *("srun", "--ntasks", "2", "--cpus-per-task", "1", "quire", "layout", "train"),
        *(str(pages), "-o", str(model), "--steps", "6", "--validate-every", "3"),
        *("--depth", "2", "--width", "4", "--patch", "96", "--batch-size", "2"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=environment(), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("model written to") == 1  # process 0 writes
    from quire.layout.predict import load_layout_model

    assert load_layout_model(model, "cpu").layers == ["background", "staff", "symbols", "text"]
    assert torch.load(tmp_path / "model.checkpoint.pt", weights_only=True)["state"]["step"] == 6
