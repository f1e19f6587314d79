"""The work directory's PageXML: finding the pages and editing them in place, page by page;
the record of how its snippets were cut."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from quire.batch import BatchResult, run_batch
from quire.config import CutConfig
from quire.errors import InputError
from quire.io import atomic_write_text

if TYPE_CHECKING:
    from quire.pagexml import PageDocument


# An XML NCName, what PAGE's @id allows: no separators, never "." or "..".
SAFE_ID = re.compile(r"[^\W\d][\w.-]{0,127}")


def id_problem(line_id: str | None, stem: str, seen: set[str]) -> str | None:
    """Why no snippet can be named after line ``line_id`` of page ``stem`` (no id, not a
    plain XML id, a file name too long, an id used before on the page, which ``seen``
    records), or ``None``."""
    if line_id is None:
        return "a line without an id is not cut"
    if not SAFE_ID.fullmatch(line_id):
        return f"line id {line_id!r} is not a plain XML id (letters, digits, '.', '-', '_')"
    if len(f".{stem}-{line_id}.png.XXXXXXXX.part".encode()) > 255:
        return f"line id {line_id!r} is too long: its snippet's file name would pass 255 bytes"
    if line_id in seen:
        return f"line id {line_id!r} is used twice; only the first is used"
    seen.add(line_id)
    return None


def snippet_path(work: Path, stem: str, line_id: str | None) -> Path:
    """``WORK/snippets/<stem>/<stem>-<line id>.png``, the key merge joins on; an
    :class:`InputError` unless the id is a plain XML id and the stem a file name (a path
    built from anything else could leave the folder)."""
    if line_id is None or not SAFE_ID.fullmatch(line_id) or stem in {"", ".", ".."}:
        raise InputError(work / "snippets", f"no snippet can be named {stem!r}-{line_id!r}")
    return work / "snippets" / stem / f"{stem}-{line_id}.png"


def page_files(work: Path) -> list[Path]:
    """``work/page/*.xml`` sorted by name; an :class:`InputError` when there are none."""
    pages = sorted((work / "page").glob("*.xml"))
    if not pages:
        raise InputError(work / "page", "no PageXML files")
    return pages


def write_version(doc: PageDocument) -> str:
    """The PAGE version an edited page is written in: its own where quire writes it
    (2013 stays 2013 for Transkribus), else 2019."""
    from quire.pagexml import DEFAULT_VERSION, WRITABLE

    return doc.source_version if doc.source_version in WRITABLE else DEFAULT_VERSION


def edit_pages(work: Path, edit: Callable[[PageDocument], bool], description: str) -> BatchResult:
    """Call ``edit`` on every page of ``work/page/``; write the pages it says it changed.

    A page that cannot be read or edited fails alone; the file stays as it was.
    """
    from quire.pagexml import PageDocument

    def one(xml: Path) -> None:
        doc = PageDocument.read(xml)
        if edit(doc):
            doc.write(xml, write_version(doc))

    return run_batch(page_files(work), one, description=description, noun="page")


SNIPPET_GEOMETRY = Path("snippets") / "cut.json"


def write_snippet_geometry(work: Path, deskew: bool, padding: int) -> None:
    """Record how ``quire cut`` cuts the snippets of ``work``."""
    record = {"deskew": deskew, "padding": padding}
    atomic_write_text(work / SNIPPET_GEOMETRY, json.dumps(record) + "\n")


def snippet_geometry(work: Path) -> tuple[bool, int]:
    """Whether the snippets of ``work`` were deskewed, and their padding, as ``cut``
    recorded it; cut's defaults where it left no record."""
    path = work / SNIPPET_GEOMETRY
    if not path.exists():
        defaults = CutConfig()
        return defaults.deskew, defaults.padding
    try:
        geometry = json.loads(path.read_text(encoding="utf-8"))
        return bool(geometry["deskew"]), int(geometry["padding"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise InputError(path, f"is not a cut record ({exc})") from None
