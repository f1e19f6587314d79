"""scripts/lib/runner.sh: the container command, GPU flags, local runs, markers, failures."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

RUNNER = REPO / "scripts" / "lib" / "runner.sh"
VERSION = subprocess.run(
    ["bash", "-c", f"source {RUNNER}; quire_version"], capture_output=True, text=True, check=True
).stdout.strip()


def bash(script: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``script`` after sourcing the runner, with ``env`` as the only settings that
    containers see (SOURCE_DATE_EPOCH, OMP_NUM_THREADS)."""
    environment = {**os.environ, **env}
    for name in {"SOURCE_DATE_EPOCH", "OMP_NUM_THREADS"} - env.keys():
        environment.pop(name, None)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f"source {RUNNER}\n{script}"],
        capture_output=True,
        text=True,
        env=environment,
    )


def run_binarize(inputs: Path, work: Path, then: str = "") -> subprocess.CompletedProcess:
    """Run the binarize stage locally through the runner, then the shell code ``then``."""
    return bash(
        f"quire_run_stage binarize {work} binarize {inputs} {work}/bin\n{then}",
        QUIRE_RUNNER="local",
    )


def dry_run(tmp_path: Path, **env: str) -> str:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    images = tmp_path / "scans"
    images.mkdir(exist_ok=True)
    result = bash(
        f"quire_run_stage binarize {work} binarize {images} {work}/bin",
        QUIRE_DRY_RUN="1",
        QUIRE_RUNNER="docker",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_version_matches_the_package():
    from quire import __version__

    assert __version__ == VERSION


def test_dry_run_prints_the_docker_command(tmp_path):
    uid = f"{os.getuid()}:{os.getgid()}"
    expected = (
        f"docker run --rm -u {uid} -v {tmp_path}/scans:{tmp_path}/scans "
        f"-v {tmp_path}/work:{tmp_path}/work quire-layout:{VERSION} "
        f"quire binarize {tmp_path}/scans {tmp_path}/work/bin"
    )
    assert dry_run(tmp_path) == expected
    assert dry_run(tmp_path, QUIRE_GPU="none") == expected
    assert "-it" not in expected.split()


@pytest.mark.parametrize(
    ("engine", "gpu", "flags"),
    [
        ("docker", "all", "--gpus all"),
        ("docker", "0", '--gpus \\"device=0\\"'),
        ("docker", "0,1", '--gpus \\"device=0\\,1\\"'),
        ("podman", "all", "--device nvidia.com/gpu=all"),
        ("podman", "0,1", "--device nvidia.com/gpu=0 --device nvidia.com/gpu=1"),
    ],
)
def test_gpu_flags(tmp_path, engine, gpu, flags):
    command = dry_run(tmp_path, QUIRE_GPU=gpu, QUIRE_CONTAINER_ENGINE=engine)
    assert command.startswith(f"{engine} run --rm ")
    assert f" {flags} quire-layout:{VERSION} quire binarize " in command


def test_gpu_ids_reach_docker_as_one_quoted_argument(tmp_path):
    result = bash("QUIRE_GPU=0,1 quire_gpu_flags")
    assert result.stdout.splitlines() == ["--gpus", '"device=0,1"']


def test_engine_flags_and_bad_settings(tmp_path):
    command = dry_run(
        tmp_path,
        QUIRE_CONTAINER_ENGINE="/usr/bin/podman --runtime=runc --cgroup-manager=cgroupfs",
        QUIRE_CONTAINER_RUN_ARGS="--ulimit nofile=1024:1024",
        QUIRE_GPU="1",
        SOURCE_DATE_EPOCH="1700000000",
    )  # global flags go before `run`, run flags after it
    engine = "/usr/bin/podman --runtime=runc --cgroup-manager=cgroupfs"
    assert command.startswith(f"{engine} run --rm -u ")
    assert " --ulimit nofile=1024:1024 -e SOURCE_DATE_EPOCH -v " in command
    assert " --device nvidia.com/gpu=1 quire-layout:" in command
    result = bash("QUIRE_GPU=first quire_gpu_flags")
    assert result.returncode == 2 and "--gpu must be none, all or GPU ids" in result.stderr
    result = bash("QUIRE_RUNNER=cloud quire_resolve_runner binarize")
    assert result.returncode == 2 and "--runner must be auto, docker or local" in result.stderr
    for setting in ("QUIRE_RUNNER=cloud", "QUIRE_GPU=first"):  # the stage never runs
        result = bash(f"{setting} quire_run_stage binarize {tmp_path}/w binarize a b\necho ran")
        assert result.returncode == 2 and "ran" not in result.stdout


def test_auto_runs_locally_without_an_engine_or_image(tmp_path):
    result = bash("quire_resolve_runner binarize", QUIRE_CONTAINER_ENGINE="no-such-engine")
    assert result.stdout.strip() == "local"


def test_local_run_of_a_real_stage_with_log_markers_and_rerun(scans, tmp_path):
    work = tmp_path / "work"
    run = f"quire_run_stage binarize {work} binarize {scans} {work}/bin\nquire_finish"
    first = bash(run, QUIRE_RUNNER="local")
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in (work / "bin").iterdir()) == ["page-001.png", "page-002.png"]
    assert (work / ".done" / "binarize").exists()
    assert "2 of 2 files done" in (work / "logs" / "binarize.log").read_text()
    again = bash(run, QUIRE_RUNNER="local")
    assert "binarize: done before, skipped" in again.stderr
    (work / "bin" / "page-001.png").unlink()
    forced = bash(run, QUIRE_RUNNER="local", QUIRE_FORCE="1")
    assert forced.returncode == 0 and (work / "bin" / "page-001.png").exists()


def test_failed_inputs_go_on_and_set_the_exit_status(scans, tmp_path):
    (scans / "broken.png").write_bytes(b"junk")
    work = tmp_path / "work"
    result = run_binarize(scans, work, "echo next stage runs\nquire_finish")
    assert result.returncode == 1
    assert "next stage runs" in result.stdout
    assert f"error: {scans}/broken.png: not a readable image" in result.stderr
    assert not (work / ".done" / "binarize").exists()  # a rerun retries it


def test_a_failing_stage_stops_the_script_naming_stage_and_log(tmp_path):
    work = tmp_path / "work"
    result = run_binarize(tmp_path / "missing", work, "echo must not run")
    assert result.returncode == 2
    assert "must not run" not in result.stdout
    assert f"stage 'binarize' failed (exit 2); log: {work}/logs/binarize.log" in result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_scripts_are_shellcheck_clean():
    scripts = [str(p) for p in (REPO / "scripts").rglob("*.sh")] + [str(REPO / ".ci" / "run")]
    result = subprocess.run(
        ["shellcheck", "-x", *scripts], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stdout


def test_folders_that_linked_inputs_point_into_are_mounted_too(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "page.png").write_bytes(b"")
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "page.png").symlink_to(elsewhere / "page.png")
    (tmp_path / "scans" / "gone.png").symlink_to(tmp_path / "missing" / "gone.png")
    command = dry_run(tmp_path)
    assert f" -v {elsewhere}:{elsewhere} " in command
    assert "missing" not in command  # a broken link mounts nothing
