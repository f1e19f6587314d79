"""The work directory's PageXML: finding the pages and editing them in place, page by page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from quire.batch import BatchResult, run_batch
from quire.errors import InputError

if TYPE_CHECKING:
    from quire.pagexml import PageDocument


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
