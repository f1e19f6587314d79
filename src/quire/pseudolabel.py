"""quire pseudolabel: predicted lines above a confidence bound as weighted training data.

The source is a results file (``path<TAB>confidence<TAB>text``) or a work folder
whose pages carry merged predictions (``TextEquiv@conf``) and whose snippets were
cut. Lines whose confidence lies within the bounds become
``path<TAB>weight<TAB>text`` rows, the weight being the confidence, so that
``quire recognize train`` trusts a line as much as the recognizer did.
"""

from __future__ import annotations

import logging
from pathlib import Path

from quire.batch import BatchResult
from quire.config import PseudolabelConfig
from quire.errors import InputError
from quire.lists import Entry, read_results, write_list

log = logging.getLogger("quire")


def _from_results(path: Path, result: BatchResult) -> list[tuple[Entry, bool]]:
    rows, problems = read_results(path)
    result.problems += problems
    for problem in problems:
        log.error("%s", problem)
    base = path.parent
    return [
        (Entry(r.path if r.path.is_absolute() else base / r.path, r.text, r.confidence), False)
        for r in rows.values()
    ]


def _from_pages(work: Path, result: BatchResult) -> list[tuple[Entry, bool]]:
    from quire.pagexml import PageDocument
    from quire.workdir import id_problem, page_files, snippet_path

    found = []
    for xml in page_files(work):
        try:
            doc = PageDocument.read(xml)
        except InputError as exc:
            result.failed.append((str(xml), str(exc)))
            log.error("%s", exc)
            continue
        seen: set[str] = set()
        for line in doc.text_lines():
            if problem := id_problem(line.id, xml.stem, seen):
                result.failed.append((str(xml), f"{xml}: {problem}"))
                log.error("%s: %s", xml, problem)
            elif line.text and line.text.strip() and line.conf is not None:
                snippet = snippet_path(work, xml.stem, line.id)
                found.append((Entry(snippet, line.text, line.conf), line.is_staff))
    return found


def pseudolabel(source: Path, output: Path, config: PseudolabelConfig) -> BatchResult:
    """Write the lines of ``source`` within the confidence bounds to the list ``output``."""
    result = BatchResult(noun="line")
    found = _from_results(source, result) if source.is_file() else _from_pages(source, result)
    kept = []
    for entry, staff in found:
        if config.kind != "all" and staff != (config.kind == "staves"):
            continue
        if not config.min_confidence <= entry.weight <= config.max_confidence:
            continue
        if not entry.path.is_file():
            message = f"{entry.path}: no snippet (cut the pages first)"
            result.failed.append((str(entry.path), message))
            log.error("%s", message)
            continue
        kept.append(entry)
        result.done += 1
    write_list(output, kept, weighted=True)
    log.info("%d of %d lines kept as pseudolabels in %s", len(kept), len(found), output)
    return result
