"""**kern as quire needs it: records and spines, staff slices, one-line staff text.

A staff transcription in quire is one line of tokens separated by single spaces:
what is engraved on the staff in order (:mod:`quire.synth.engraving`), one Humdrum
record after the other, and the notes of a chord joined by the separate token
``<s>`` (as the split-kern encodings of the Sheet Music Transformer papers do).
A staff that holds two voices splits its spine (``*^``) and joins it again
(``*v`` in every field); while split, each record has a field per voice, joined by
the separate token ``<t>`` (the papers' tab), ``.`` where a voice holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CHORD_SEPARATOR = "<s>"
FIELD_SEPARATOR = "<t>"
SPLIT, JOIN = "*^", "*v"


SHARP_ORDER, FLAT_ORDER = "fcgdaeb", "beadgcf"


def key_signature(fifths: int) -> str:
    """The ``*k[…]`` token of a key of ``fifths`` sharps (negative: flats)."""
    if fifths >= 0:
        return f"*k[{''.join(f'{s}#' for s in SHARP_ORDER[:fifths])}]"
    return f"*k[{''.join(f'{s}-' for s in FLAT_ORDER[:-fifths])}]"


class KernError(ValueError):
    """A **kern text quire cannot use; the message says why and where."""


@dataclass
class KernScore:
    """The **kern spines of a Humdrum file and its data records.

    ``records`` holds ``(line number, fields)`` for every record that is neither a
    comment nor empty; ``kern_fields`` the field index (0-based) of each **kern
    spine, bottom staff first as Humdrum orders them.
    """

    text: str
    records: list[tuple[int, list[str]]] = field(default_factory=list)
    kern_fields: list[int] = field(default_factory=list)

    @property
    def staff_count(self) -> int:
        return len(self.kern_fields)


def parse_kern(text: str) -> KernScore:
    """Parse Humdrum text with **kern spines, following spine splits and joins
    (``*^``, ``*v``); exchanges and new spines (``*x``, ``*+``) are refused."""
    score = KernScore(text)
    width = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("!"):
            continue
        fields = line.split("\t")
        if width is None:
            if not all(f.startswith("**") for f in fields):
                raise KernError(
                    f"line {number}: expected the exclusive interpretations (**kern …) first"
                )
            score.kern_fields = [i for i, f in enumerate(fields) if f == "**kern"]
            if not score.kern_fields:
                raise KernError("no **kern spine")
            width = len(fields)
        elif len(fields) != width:
            raise KernError(f"line {number}: {len(fields)} fields where {width} spines run")
        if any(f in ("*+", "*x") for f in fields):
            raise KernError(f"line {number}: spine exchanges and new spines are not supported")
        score.records.append((number, fields))
        width = width_after(fields, number)
    if width is None:
        raise KernError("empty file")
    return score


def width_after(fields: list[str], number: int) -> int:
    """How many fields the record after ``fields`` has: one more per split, one for each
    run of adjacent joins."""
    width, k = 0, 0
    while k < len(fields):
        if fields[k] == JOIN:
            run = k
            while run < len(fields) and fields[run] == JOIN:
                run += 1
            if run - k < 2:
                raise KernError(f"line {number}: a spine join (*v) needs a neighbour to join")
            width, k = width + 1, run
        else:
            width, k = width + (2 if fields[k] == SPLIT else 1), k + 1
    return width


def staff_text(records: list[str]) -> str:
    """One line: records separated by spaces, a record's fields (tab-separated in
    Humdrum) by ``<t>``, a field's chord notes (space-separated) by ``<s>``."""
    return " ".join(
        f" {FIELD_SEPARATOR} ".join(
            f" {CHORD_SEPARATOR} ".join(field.split(" ")) for field in record.split("\t")
        )
        for record in records
    )


def text_records(text: str) -> list[list[str]]:
    """Inverse of :func:`staff_text`: records, each a list of fields (a chord's notes
    joined by spaces, as in a Humdrum field)."""
    records: list[list[list[str]]] = []
    join = None
    for token in text.split():
        if token in (CHORD_SEPARATOR, FIELD_SEPARATOR):
            join = token
        elif join == CHORD_SEPARATOR and records:
            records[-1][-1].append(token)
            join = None
        elif join == FIELD_SEPARATOR and records:
            records[-1].append([token])
            join = None
        else:
            records.append([[token]])
    return [[" ".join(notes) for notes in record] for record in records]


_HARM = re.compile(r"(\*harm:)([A-G])([#b]?)(:[^/]*)?(/[A-G])?([#b]?)")
_PIECE = re.compile(r"\d+\.*|([a-gA-G])\1*|#+|-+|n|r|.", re.DOTALL)


def split_token(token: str) -> list[str]:
    """Split a kern note or rest into pieces (duration, pitch, accidental, marks), and
    a chord symbol into its root, kind and bass."""
    if (harm := _HARM.fullmatch(token)) is not None:
        return [piece for piece in harm.groups() if piece]
    if token.startswith(("*", "=", "!")):
        return [token]
    return [m.group(0) for m in _PIECE.finditer(token)]
