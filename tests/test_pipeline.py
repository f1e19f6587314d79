"""scripts/inference-pipeline.sh end to end with the shipped models, on a generated page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from quire.cli import cli
from quire.pagexml import PageDocument
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "inference-pipeline.sh"


def pipeline(*args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [str(SCRIPT), *map(str, args), "--runner", "local"], capture_output=True, text=True, env=env
    )


def test_inference_pipeline_reads_a_generated_page(tmp_path, validate):
    data = tmp_path / "data"
    result = CliRunner().invoke(
        cli,
        [
            *("synth", "music", str(data), "--pages", "1", "--kind", "monophonic"),
            *("--max-systems", "3", "--seed", "11", "--title-chance", "0"),
        ],
    )
    assert result.exit_code == 0, result.output
    images, out = data / "images", tmp_path / "out"
    before = sorted(images.iterdir())
    run = pipeline(images, out)
    assert run.returncode == 0, run.stderr
    assert "quire: 1 pages," in run.stderr and sorted(images.iterdir()) == before
    xml = next((out / "page").glob("*.xml"))
    assert validate(xml) == []
    doc = PageDocument.read(xml)
    staves = [line for line in doc.text_lines() if line.is_staff]
    assert staves and all(line.text and line.conf is not None for line in staves)
    steps = [step["name"] for step in doc.processing_steps()]
    assert steps[:1] == ["extract"] and {"merge", "order", "language"} <= set(steps)
    export = out / "export"
    for suffix in (".krn", ".mid", ".musicxml", ".mei"):
        assert (export / f"{xml.stem}{suffix}").stat().st_size > 0
    assert (export / "overlays" / f"{xml.stem}.png").exists() and (export / "index.html").exists()
    page = xml.read_bytes()
    again = pipeline(images, out)
    assert again.returncode == 0 and again.stderr.count("done before, skipped") == 9
    assert xml.read_bytes() == page
    redo = pipeline(images, out, "--from", "order")
    assert redo.returncode == 0 and redo.stderr.count("done before, skipped") == 5
    bad = pipeline(images, out, "--from", "nowhere")
    assert bad.returncode == 2 and "--from: no stage 'nowhere'" in bad.stderr
