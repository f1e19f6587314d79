"""A page's staves as a score's systems: read in reading order, made to agree.

What export turns into **kern, merge marks in ``custom`` and evaluate scores with
OMR-NED: each system's staves as kern records (readings of the wrong width
repaired), made to agree by :func:`quire.music.fit.fit_system`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quire.music.fit import fit_system
from quire.music.kern import KernError
from quire.music.score import Staff, staff_records

if TYPE_CHECKING:
    from quire.pagexml import PageDocument


def page_staves(doc: PageDocument) -> tuple[list[list[Staff]], dict[str, list[str]], list[str]]:
    """The staves of each system, made to agree; what was changed on each staff (by
    id, records of the wrong width included); and one line per staff that fails."""
    systems: list[list[Staff]] = []
    changed: dict[str, list[str]] = {}
    failed: list[str] = []
    for region in doc.regions_in_order():
        lines = [line for line in region.text_lines() if line.is_staff]
        if not lines:
            continue
        staves: list[Staff | None] = []
        repairs: list[list[str]] = []
        for line in lines:
            encoding = (line.custom_get("encoding") or {}).get("name", "kern")
            repairs.append([])
            try:
                staves.append(staff_records(line.text or "", encoding, repairs[-1]))
            except KernError as exc:
                failed.append(f"staff {line.id}: {exc}")
                staves.append(None)
        fitted, changes = fit_system(staves, [line.conf for line in lines])
        for line, repaired, change in zip(lines, repairs, changes, strict=True):
            if repaired + change:
                changed[line.id] = repaired + change
        systems.append(fitted)
    return systems, changed, failed
