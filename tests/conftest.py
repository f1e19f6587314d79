"""Shared fixtures: the reference data folder, schema validation, generated scans."""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path

import pytest
from lxml import etree

from quire.music.kern import KernScore

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("QUIRE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference data beside the checkout; tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@functools.cache
def _schema(version: str) -> etree.XMLSchema | None:
    path = SHARED_DATA / "pagexml-schemas" / f"pagecontent_{version}.xsd"
    return etree.XMLSchema(etree.parse(str(path))) if path.exists() else None


@pytest.fixture(scope="session")
def validate():
    """validate(bytes_or_path, version) -> list of schema errors (empty when valid)."""

    def check(data: bytes | Path, version: str = "2019-07-15") -> list[str]:
        schema = _schema(version)
        if schema is None:
            pytest.skip(f"PAGE schema {version} not found under {SHARED_DATA}")
        tree = etree.parse(str(data)) if isinstance(data, Path) else etree.fromstring(data)
        schema.validate(tree)
        return [str(error) for error in schema.error_log]

    return check


def script_environment(**settings: str) -> dict[str, str]:
    """The environment for running the scripts: this Python's ``quire`` first on PATH,
    plus ``settings``."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, **settings}


def quire(*args: object, code: int = 0) -> str:
    """Run ``quire ARGS…`` in this process and return its output; it must end with
    exit status ``code``."""
    from click.testing import CliRunner

    from quire.cli import cli

    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    assert result.exit_code == code, result.output
    return result.output


def make_scan(path: Path, size: tuple[int, int] = (320, 240), text: str = "quire") -> Path:
    """A small synthetic 'scan': tinted paper, a ruled line and some text."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (232, 224, 205))
    draw = ImageDraw.Draw(image)
    draw.text((20, 20), text, fill=(30, 25, 20))
    draw.line((10, size[1] // 2, size[0] - 10, size[1] // 2), fill=(20, 20, 20), width=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    """A folder with two small page images."""
    folder = tmp_path / "scans"
    make_scan(folder / "page-001.png")
    make_scan(folder / "page-002.jpg", text="second page")
    return folder


def transcriptions(folder: Path) -> dict[str, list[tuple[str, str | None]]]:
    """Per page, the id and text of every line (confidences differ in the last digits
    with how lines are batched)."""
    from quire.pagexml import PageDocument

    return {
        path.name: [(line.id, line.text) for line in PageDocument.read(path).text_lines()]
        for path in sorted(folder.glob("*.xml"))
    }


def spine_records(score: KernScore, spine: int) -> list[list[str]]:
    """The records of one **kern spine (0: the first): a field per voice where it
    splits, records of null tokens left out."""
    column = score.kern_fields[spine]
    records = []
    owners = list(range(len(score.records[0][1])))  # the spine each field belongs to
    for _, fields in score.records:
        mine = [t for owner, t in zip(owners, fields, strict=True) if owner == column]
        if any(t not in (".", "*") for t in mine):
            records.append(mine)
        after = []
        for k, (owner, token) in enumerate(zip(owners, fields, strict=True)):
            if token == "*^":
                after += [owner, owner]
            elif token != "*v" or k == 0 or fields[k - 1] != "*v":
                after.append(owner)
        owners = after
    return records


def spine_tokens(score: KernScore, spine: int) -> list[str]:
    """The tokens of one **kern spine (0: the first), voice by voice where it splits,
    barline numbers dropped, without null tokens and the interpretations Verovio does
    not engrave."""
    tokens = []
    for record in spine_records(score, spine):
        for token in record:
            if token in (".", "*", "*-") or token.startswith("**"):
                continue
            if token.startswith("*") and not token.startswith(("*clef", "*k[", "*M", "*met(")):
                continue
            tokens.append(re.sub(r"^=\d+", "=", token))
    return tokens


def without_ids(path: Path) -> bytes:
    """The file, without the ids Verovio and music21 draw at random (MEI, MusicXML)."""
    return re.sub(rb'(xml:id|id|startid|endid|part)="[^"]*"', b"", path.read_bytes())


def assert_same_outputs(out: Path, local: Path) -> None:
    """The pipeline output ``out`` reads the same text as ``local`` (one local run) and
    exports the same files with the same music (index.html aside: a gathered run of
    shards has none)."""
    assert transcriptions(out / "page") == transcriptions(local / "page")
    assert any(text for page in transcriptions(local / "page").values() for _, text in page)

    def exported(folder: Path) -> list[str]:
        return sorted(
            str(p.relative_to(folder)) for p in folder.rglob("*.*") if p.name != "index.html"
        )

    exports = exported(local / "export")
    assert exported(out / "export") == exports
    for name in exports:
        if name.endswith((".krn", ".mei", ".musicxml", ".mid")):
            assert without_ids(out / "export" / name) == without_ids(local / "export" / name)
