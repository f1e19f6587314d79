"""quire binarize: Sauvola background removal to Pixel.js-ready RGBA PNGs."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from quire.cli import cli


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_ink_is_opaque_and_background_transparent(scans, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["binarize", "--empty-layer", str(scans), str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "page-001-empty-layer.png",
        "page-001.png",
        "page-002-empty-layer.png",
        "page-002.png",
    ]
    rgba = np.asarray(Image.open(out / "page-001.png"))
    assert rgba.shape == (240, 320, 4)
    alpha = rgba[..., 3]
    assert set(np.unique(alpha)) == {0, 255}
    assert alpha[120, 50] == 255  # the ruled line is ink
    assert alpha[200, 200] == 0  # paper is background
    assert 0.005 < (alpha == 255).mean() < 0.2
    source = np.asarray(Image.open(scans / "page-001.png").convert("RGB"))
    assert (rgba[..., :3] == source).all()  # colours kept
    empty = np.asarray(Image.open(out / "page-001-empty-layer.png"))
    assert empty.shape == (240, 320, 4) and not empty[..., 3].any()


def test_bad_image_fails_alone_and_inputs_are_untouched(scans, tmp_path):
    (scans / "broken.png").write_bytes(b"\x89PNG not really")
    (scans / "huge.png").write_bytes((scans / "page-001.png").read_bytes())
    before = digest(scans)
    out = tmp_path / "out"
    config = tmp_path / "c.yaml"
    config.write_text("binarize:\n  max_pixels: 80000\n")  # every page is under it
    result = CliRunner().invoke(cli, ["binarize", "--config", str(config), str(scans), str(out)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {scans / 'broken.png'}: not a readable image"]
    assert sorted(p.name for p in out.iterdir()) == ["huge.png", "page-001.png", "page-002.png"]
    assert digest(scans) == before

    config.write_text("binarize:\n  max_pixels: 1000\n")
    result = CliRunner().invoke(
        cli, ["binarize", "--config", str(config), str(scans), str(tmp_path / "out2")]
    )
    assert f"{scans / 'huge.png'}: image is 320x240, over the limit of 1000 pixels" in result.output


@pytest.mark.parametrize("inside", ["", "out", "out/deeper"])
def test_output_folder_may_not_be_the_input_folder_or_inside_it(scans, inside):
    before = digest(scans)
    result = CliRunner().invoke(cli, ["binarize", str(scans), str(scans / inside)])
    assert result.exit_code == 2 and "inputs are never overwritten" in result.output
    assert digest(scans) == before and not (scans / "out").exists()
