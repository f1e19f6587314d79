"""Line lists and recognition results, the files that carry transcriptions between stages.

A list has one line per snippet: ``path<TAB>text`` or ``path<TAB>weight<TAB>text``
(pseudolabels carry a weight); relative paths are relative to the list's folder.
Results (``results.tsv``) have ``path<TAB>confidence<TAB>text``.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from quire.batch import BatchResult
from quire.errors import InputError
from quire.io import atomic_write_text

log = logging.getLogger("quire")


@dataclass
class Entry:
    """One line of a list: where its snippet is, its transcription and weight."""

    path: Path
    text: str
    weight: float = 1.0
    source: str = ""  # list:line, for messages


def _lines(path: Path, kind: str, problems: list[str]) -> list[tuple[str, str]]:
    """The non-blank lines of a list or results file with their ``file:line`` source; a
    line that is not UTF-8 is left out, with a message in ``problems``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read {kind} ({exc.strerror})") from None
    lines = []
    for number, raw in enumerate(data.splitlines(), start=1):
        source = f"{path}:{number}"
        try:
            line = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            byte = raw[exc.start]
            problems.append(f"{source}: not UTF-8 (byte 0x{byte:02x} at column {exc.start + 1})")
            continue
        if line.strip():
            lines.append((source, line))
    return lines


def _weight(value: str) -> float | None:
    """A weight or confidence: a number from 0 to 1, else ``None``."""
    try:
        weight = float(value)
    except ValueError:
        return None
    return weight if 0.0 <= weight <= 1.0 else None


def read_list(path: Path, need_text: bool = True) -> tuple[list[Entry], list[str]]:
    """The entries of a list file, and one message per unusable line; without
    ``need_text`` (lists to recognize) only the first column counts."""
    entries: list[Entry] = []
    problems: list[str] = []
    for source, line in _lines(path, "list", problems):
        fields = line.split("\t")
        text, weight = "\t".join(fields[1:]), 1.0
        if len(fields) >= 3 and need_text:
            if (w := _weight(fields[1])) is None:
                problems.append(f"{source}: weight {fields[1]!r} is not a number from 0 to 1")
                continue
            weight, text = w, "\t".join(fields[2:])
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


def write_list(path: Path, entries: list[Entry], weighted: bool | None = None) -> None:
    """Write ``entries`` as a list, paths relative to the list's folder; with a weight
    column when ``weighted`` (by default when some weight is not 1)."""
    if weighted is None:
        weighted = any(entry.weight != 1.0 for entry in entries)
    rows = []
    for entry in entries:
        name = os.path.relpath(entry.path.absolute(), path.parent.absolute())
        rows.append(
            f"{name}\t{entry.weight:.4g}\t{entry.text}" if weighted else f"{name}\t{entry.text}"
        )
    atomic_write_text(path, "".join(f"{row}\n" for row in rows))


def split_list(list_file: Path, output: Path, fraction: float, seed: int) -> BatchResult:
    """Split a list into ``output/train.txt`` and ``output/val.txt``; its unusable lines
    are reported as problems.

    The same list, fraction and seed give the same split. Validation gets
    round(fraction × lines) lines, but at least one and never all: 2 lines split 1 / 1,
    and a single line goes to training (with a warning) rather than nowhere.
    """
    entries, problems = read_list(list_file)
    for problem in problems:
        log.error("%s", problem)
    if not entries:
        raise InputError(list_file, "no lines with a transcription")
    order = sorted(entries, key=lambda entry: str(entry.path))
    random.Random(seed).shuffle(order)
    count = 0 if len(order) < 2 or fraction == 0 else round(len(order) * fraction)
    count = min(max(count, 1 if fraction and len(order) > 1 else 0), len(order) - 1)
    if fraction and count == 0:
        log.warning("%s: a single line: it goes to training, validation is empty", list_file)
    write_list(output / "train.txt", order[count:])
    write_list(output / "val.txt", order[:count])
    log.info("%s: %d lines to train, %d to validate", list_file, len(order) - count, count)
    return BatchResult(done=len(order), noun="line", problems=problems)


@dataclass
class Result:
    """One line of a results file: a snippet's recognized text and its confidence."""

    path: Path
    confidence: float
    text: str
    source: str = ""  # results:line, for messages
    metadata: dict = field(default_factory=dict)  # Loghi's 4-field form: model metadata


def read_results(path: Path) -> tuple[dict[str, Result], list[str]]:
    """The results of a results file keyed by snippet (file stem), and one message per
    unusable line."""
    rows: dict[str, Result] = {}
    problems: list[str] = []
    for source, line in _lines(path, "results", problems):
        fields = line.split("\t")
        if len(fields) < 3:
            problems.append(f"{source}: expected path<TAB>confidence<TAB>text")
            continue
        metadata = _metadata(fields)
        if metadata is not None:  # Loghi's 4 fields: path, metadata (JSON), confidence, text
            del fields[1]
        confidence = _weight(fields[1])
        if confidence is None:
            problems.append(f"{source}: confidence {fields[1]!r} is not a number from 0 to 1")
            continue
        key = Path(fields[0]).stem
        if key in rows:
            problems.append(f"{source}: {key} is listed already at {rows[key].source}")
            continue
        text = "\t".join(fields[2:])
        rows[key] = Result(Path(fields[0]), confidence, text, source, metadata or {})
    return rows, problems


def _metadata(fields: list[str]) -> dict | None:
    """The metadata column of a 4-field results row (a JSON object before the
    confidence), or ``None`` for the 3-field form."""
    if len(fields) < 4 or not fields[1].startswith("{") or _weight(fields[2]) is None:
        return None
    try:
        metadata = json.loads(fields[1])
    except json.JSONDecodeError:
        return None
    return metadata if isinstance(metadata, dict) else None
