"""Line lists and recognition results, the files that carry transcriptions between stages.

A list has one line per snippet: ``path<TAB>text`` or ``path<TAB>weight<TAB>text``
(pseudolabels carry a weight); relative paths are relative to the list's folder.
Results (``results.tsv``) have ``path<TAB>confidence<TAB>text``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from quire.errors import InputError


@dataclass
class Entry:
    """One line of a list: where its snippet is, its transcription and weight."""

    path: Path
    text: str
    weight: float = 1.0
    source: str = ""  # list:line, for messages


def _lines(path: Path, kind: str) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read {kind} ({exc})") from None


def _weight(value: str) -> float | None:
    try:
        weight = float(value)
    except ValueError:
        return None
    return weight if weight >= 0 else None


def read_list(path: Path, need_text: bool = True) -> tuple[list[Entry], list[str]]:
    """The entries of a list file, and one message per unusable line."""
    entries, problems = [], []
    for number, line in enumerate(_lines(path, "list"), start=1):
        if not line.strip():
            continue
        source = f"{path}:{number}"
        fields = line.split("\t")
        text, weight = "", 1.0
        if len(fields) >= 3 and (w := _weight(fields[1])) is not None:
            weight, text = w, "\t".join(fields[2:])
        elif len(fields) >= 2:
            text = "\t".join(fields[1:])
        if need_text and len(fields) < 2:
            problems.append(f"{source}: no transcription (expected path<TAB>text)")
            continue
        if need_text and not text.strip():
            problems.append(f"{source}: empty transcription")
            continue
        snippet = Path(fields[0])
        entries.append(
            Entry(
                snippet if snippet.is_absolute() else Path(os.path.normpath(path.parent / snippet)),
                text,
                weight,
                source,
            )
        )
    return entries, problems


def read_results(path: Path) -> dict[str, str]:
    """The texts of a results file, keyed by the snippet's file stem."""
    rows = {}
    for number, line in enumerate(_lines(path, "results"), 1):
        fields = line.split("\t")
        if len(fields) < 3:
            raise InputError(path, f"line {number}: expected path<TAB>confidence<TAB>text")
        rows[Path(fields[0]).stem] = "\t".join(fields[2:])
    return rows
