"""The shipped default models load and do their job on pages they never saw."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from quire.cli import cli
from tests.conftest import REPO

LAYOUT = REPO / "models" / "layout-default"


@pytest.mark.skipif(not LAYOUT.exists(), reason="models/layout-default is not built")
def test_default_layout_model_labels_and_extracts_an_unseen_page(tmp_path):
    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["-q", *args])
        assert result.exit_code == 0, result.output
        return result.output

    pages, work = tmp_path / "pages", tmp_path / "work"
    run("synth", "music", str(pages), "--pages", "1", "--seed", "90210", "--max-systems", "4")
    run("layout", "predict", str(pages / "images"), str(work), "-m", str(LAYOUT))
    run("extract", str(pages / "images"), str(work))
    layers = json.loads(run("evaluate", "layers", str(work / "layers"), str(pages / "layers")))
    assert layers["layers"]["symbols"]["f1"] > 0.9
    assert layers["layers"]["staff"]["f1"] > 0.8
    staves = json.loads(run("evaluate", "staves", str(work / "page"), str(pages / "page")))
    assert staves["recall"] == 1.0
