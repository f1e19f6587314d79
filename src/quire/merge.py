"""quire merge: recognition results into the PageXML their snippets were cut from.

A result's snippet key (``<page stem>-<TextLine@id>``, the snippet's file stem) names
its line. The line's ``TextEquiv`` becomes the result's text with ``@conf``; staves
also get the model's encoding in ``custom``. Nothing else in the file changes but a
``processingStep`` naming the model. Lines without a result keep what they had
(one warning per page); results without a line, unreadable rows and staff results
that are not music are reported one line each and make the exit status 1.

A staff whose reading disagrees with the other staves of its system (measures,
their lengths: :mod:`quire.music.fit`) keeps the reading, and is marked in
``custom`` with what the score made of it: ``score {changed:…;}``, the changes
joined by `` / ``. A staff that agrees loses an old mark.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from quire.batch import BatchResult
from quire.errors import InputError
from quire.lists import read_results
from quire.workdir import edit_pages

if TYPE_CHECKING:
    from quire.pagexml import PageDocument

log = logging.getLogger("quire")


def merge(work: Path, results_path: Path, model_dir: Path | None = None) -> BatchResult:
    """Write the results of ``results_path`` into ``work/page/*.xml``."""
    from quire.models import model_version, read_meta
    from quire.music.encodings import ENCODINGS
    from quire.music.kern import KernError
    from quire.music.score import staff_records

    results, problems = read_results(results_path)
    if not results and not problems:
        raise InputError(results_path, "no results")
    model, version, encoding = None, None, None
    if model_dir is not None:
        meta = read_meta(model_dir, "recognizer")
        model, version = model_dir.name, model_version(meta)
        encoding = meta.get("vocabulary", {}).get("encoding")
    used: set[str] = set()

    def edit(doc: PageDocument) -> bool:
        stem = doc.path.stem if doc.path else doc.stem
        missing, merged, seen = [], 0, set()
        for line in doc.text_lines():
            if line.id in seen:
                problems.append(f"{doc.path}: line id {line.id!r} is used twice; not merged")
                continue
            seen.add(line.id)
            result = results.get(f"{stem}-{line.id}")
            if result is None:
                missing.append(line.id)
                continue
            used.add(f"{stem}-{line.id}")
            if line.is_staff:
                named = (line.custom_get("encoding") or {}).get("name")
                staff_encoding = encoding if encoding in ENCODINGS else named or "kern"
                try:
                    staff_records(result.text, staff_encoding, [])
                except KernError as exc:
                    problems.append(f"{result.source}: staff {line.id} of {doc.path}: {exc}")
                    continue
                if staff_encoding != named:
                    line.custom_set("encoding", {"name": staff_encoding})
            line.set_styled_text(result.text, result.confidence)
            merged += 1
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" …" if len(missing) > 5 else "")
            log.warning("%s: %d lines without a result: %s", doc.path, len(missing), shown)
        if merged:
            mark_changes(doc)
            doc.add_processing_step("merge", model=model, model_version=version)
        return merged > 0

    result = edit_pages(work, edit, "merge")
    for key in sorted(set(results) - used):
        problems.append(f"{results[key].source}: no line {key} in {work / 'page'}")
    for problem in problems:
        log.error("%s", problem)
    result.problems += problems
    return result


def mark_changes(doc: PageDocument) -> None:
    """Mark each staff with what making its system agree changes (``score`` in
    ``custom``), and unmark the staves that agree."""
    from quire.music.page import page_staves

    _, changed, _ = page_staves(doc)
    for line in doc.text_lines():
        if line.is_staff:
            changes = changed.get(line.id)
            line.custom_set("score", {"changed": " / ".join(changes)} if changes else None)
