"""The container images, for real: the scripts with --runner docker against the local runner.

`make test-images` builds the four images (tag `test`, on a base image made with
debootstrap) and runs this module with QUIRE_TEST_IMAGES=1; without that it is
skipped. The engine and its flags come from QUIRE_CONTAINER_ENGINE and
QUIRE_CONTAINER_RUN_ARGS, as for the scripts.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_same_outputs, script_environment

pytestmark = pytest.mark.skipif(
    os.environ.get("QUIRE_TEST_IMAGES") != "1",
    reason="the images are tested by make test-images (QUIRE_TEST_IMAGES=1)",
)
EPOCH = "1700000000"


def script(name: str, *args: object, runner: str) -> subprocess.CompletedProcess:
    env = script_environment(
        SOURCE_DATE_EPOCH=EPOCH, QUIRE_IMAGE_TAG=os.environ.get("QUIRE_IMAGE_TAG", "test")
    )
    command = [str(REPO / "scripts" / name), *map(str, args), "--runner", runner]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but logs and stage markers, by relative path, with
    ``folder`` itself written as OUT in them (lists hold absolute paths)."""
    return {
        str(path.relative_to(folder)): path.read_bytes().replace(bytes(folder), b"OUT")
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not {"logs", ".done"} & set(path.relative_to(folder).parts)
    }


def assert_owned_by_the_caller(folder: Path) -> None:
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [folder, *folder.rglob("*")]}
    assert owners == {(os.getuid(), os.getgid())}


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    """Music and text pages rendered in the synth image; the music equals a local run."""
    root = tmp_path_factory.mktemp("images")
    texts = root / "prose.txt"
    texts.write_text("Scans of letters and music, read line by line in the archive.\n" * 20)
    options = ("--music-pages", "2", "--text-pages", "1", "--texts", texts, "--seed", "5")
    container = script("generate-synthetic-data.sh", root / "docker", *options, runner="docker")
    assert container.returncode == 0, container.stderr
    local = script("generate-synthetic-data.sh", root / "local", *options, runner="local")
    assert local.returncode == 0, local.stderr
    assert files(root / "docker" / "music") == files(root / "local" / "music")
    assert_owned_by_the_caller(root / "docker")
    return root / "docker"


def test_inference_pipeline_in_containers_equals_the_local_run(pages, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for path in [*(pages / "music" / "images").iterdir(), *(pages / "text" / "images").iterdir()]:
        (images / path.name).symlink_to(path)
    container = script("inference-pipeline.sh", images, tmp_path / "docker", runner="docker")
    assert container.returncode in (0, 1), container.stderr  # 1: a staff could not be read
    local = script("inference-pipeline.sh", images, tmp_path / "local", runner="local")
    assert local.returncode == container.returncode, local.stderr
    assert_same_outputs(tmp_path / "docker", tmp_path / "local")
    assert_owned_by_the_caller(tmp_path / "docker")


def test_create_train_data_in_containers_equals_the_local_run(pages, tmp_path):
    images, page = pages / "music" / "images", pages / "music" / "page"
    for runner in ("docker", "local"):
        done = script(
            "create-train-data.sh", images, tmp_path / runner, "--pages", page, runner=runner
        )
        assert done.returncode == 0, done.stderr
    made = files(tmp_path / "docker")
    assert made == files(tmp_path / "local")
    assert any(name.startswith("snippets/") for name in made) and "train.txt" in made
    assert_owned_by_the_caller(tmp_path / "docker")


def test_images_run_as_a_user_carry_their_version_and_the_cpu_ones_stay_small():
    from quire import __version__

    engine = os.environ.get("QUIRE_CONTAINER_ENGINE", "docker").split()
    tag = os.environ.get("QUIRE_IMAGE_TAG", "test")
    fields = (
        '{{.Size}} {{.Config.User}} {{index .Config.Labels "org.opencontainers.image.version"}}'
    )
    for family in ("layout", "recognition", "tooling", "synth"):
        inspect = [*engine, "image", "inspect", "--format", fields, f"quire-{family}:{tag}"]
        done = subprocess.run(inspect, capture_output=True, text=True, check=True)
        size, user, version = done.stdout.split()
        assert user == "1000:1000" and version == __version__
        if family in ("tooling", "synth"):  # no torch in these
            assert int(size) < 1.5e9, f"quire-{family}: {int(size) / 1e9:.2f} GB"
