"""Run the worked examples of docs/: every bash and python block, in order."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, make_scan, script_environment

BLOCK = re.compile(
    r"(?:<!-- file: (?P<file>\S+) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.DOTALL
)


def runnable(page: Path) -> list[tuple[str, str, str | None]]:
    """The blocks to run (bash, python) or to write (any block with a file name)."""
    found = [(m["lang"], m["body"], m["file"]) for m in BLOCK.finditer(page.read_text())]
    return [b for b in found if b[0] in ("bash", "python") or b[2]]


PAGES = [page for page in sorted((REPO / "docs").glob("*.md")) if runnable(page)]


def test_doc_pages_with_examples_are_found():
    assert {"binarize.md", "configuration.md", "pagexml.md", "runner.md"} <= {p.name for p in PAGES}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_examples_run(page, tmp_path):
    if page.name == "loghi.md":
        pytest.importorskip("keras", reason="the loghi extra (TensorFlow) is not installed")
    make_scan(tmp_path / "scans" / "page-001.png")
    make_scan(tmp_path / "scans" / "page-002.jpg", text="second page")
    (tmp_path / "scripts").symlink_to(REPO / "scripts")
    (tmp_path / "models").symlink_to(REPO / "models")
    env = script_environment()
    for lang, body, name in runnable(page):
        if name:
            (tmp_path / name).write_text(body)
            continue
        command = (
            ["bash", "-euo", "pipefail", "-c", body]
            if lang == "bash"
            else [sys.executable, "-c", body]
        )
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{page.name}:\n{body}\n{result.stdout}{result.stderr}"
