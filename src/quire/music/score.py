"""From staff transcriptions to one **kern score: checking staves, aligning them in time.

A page's staves are recognized one by one; a score needs them as spines. Within
a system the staves are aligned by onset (each staff's records carry their own
durations), so a piano system whose hands move in different rhythms becomes one
Humdrum record list with null tokens where a staff holds; systems follow each other
in time. Clef, key and meter that a system repeats from the one before (as
engraving does) are left out; changes stay.
"""

from __future__ import annotations

import re
from fractions import Fraction

from quire.music.encodings import to_kern
from quire.music.kern import KernError, text_records

# A kern note or rest: signifiers around a duration (or a grace mark) and a pitch.
_NOTE_CHARS = re.compile(
    r"^[0-9.%a-gA-Gr#\-n\[\]_(){}&;~^'\"`qQJLkKPpTtMmWwSsRO$:xXyYzZvu<>/\\|@!?]+$"
)
_DURATION = re.compile(r"(\d+)(?:%(\d+))?(\.*)")
_PITCH = re.compile(r"[a-gA-G]|r")
_GRACE_LAST = re.compile(r"^([^a-gA-G]*?\d[\d%.]*)([a-gA-G]+(?:#+|-+|n)?)(qq?)")

Staff = list[list[str]]  # records, each a list of chord notes (one for a single note)


def check_token(token: str) -> None:
    """Raise :class:`KernError` unless ``token`` is a kern interpretation, barline or note."""
    if token.startswith(("*", "=", "!")) or token == ".":
        return
    if not _NOTE_CHARS.match(token) or not _PITCH.search(token):
        raise KernError(f"{token!r} is not a kern note, rest, barline or interpretation")
    if not _DURATION.search(token) and not any(mark in token for mark in "qQ"):
        raise KernError(f"{token!r} has no duration")


def staff_records(text: str, encoding: str) -> Staff:
    """The kern records of one staff transcription in ``encoding``, every token checked,
    grace notes written with their ``q`` before the pitch (``16qBB``), as music21 reads
    them."""
    records = text_records(to_kern(text, encoding))
    if not records:
        raise KernError("empty transcription")
    for record in records:
        for token in record:
            check_token(token)
    return [[_GRACE_LAST.sub(r"\1\3\2", token) for token in record] for record in records]


def duration(record: list[str]) -> Fraction:
    """How long a record lasts in whole notes (0 for interpretations, barlines, grace notes)."""
    token = record[0]
    if token.startswith(("*", "=", "!")) or "q" in token or "Q" in token:
        return Fraction(0)
    found = _DURATION.search(token)
    if found is None:
        return Fraction(0)
    reciprocal, ratio, dots = found.groups()
    if set(reciprocal) == {"0"}:  # 0 is a breve, 00 a long
        value = Fraction(2 ** len(reciprocal))
    else:
        value = Fraction(int(ratio or 1), int(reciprocal))
    return value * (2 - Fraction(1, 2 ** len(dots)))


def rests(length: Fraction) -> list[list[str]]:
    """Rest records that last ``length`` whole notes: binary values where they add up to
    it, else one rest of that (tuplet or rational) duration."""
    if length <= 0:
        return []
    if length.denominator & (length.denominator - 1):  # not a power of two: a tuplet
        ratio = "" if length.numerator == 1 else f"%{length.numerator}"
        return [[f"{length.denominator}{ratio}r"]]
    out: list[list[str]] = []
    value = Fraction(1)
    while length > 0:
        if length >= value:
            out.append([f"{value.denominator}r"] if value <= 1 else ["0r"])
            length -= value
        else:
            value /= 2
    return out


def dotted_value(length: Fraction) -> str | None:
    """The kern value (breve to 64th, up to two dots) lasting ``length`` whole notes, if
    one does."""
    for dots in range(3):
        base = length / (2 - Fraction(1, 2**dots))
        if base.numerator == 1 and base.denominator & (base.denominator - 1) == 0:
            return f"{base.denominator}{'.' * dots}"
        if base == 2:
            return f"0{'.' * dots}"
    return None


def measure_rest(length: Fraction) -> str:
    """One kern rest lasting a measure of ``length`` (a dotted value), or the rests
    that add up to it where none does."""
    value = dotted_value(length)
    return f"{value}r" if value else " ".join(" ".join(r) for r in rests(length))


def resting(reference: Staff) -> Staff:
    """A staff of rests in the measures (and meters) of ``reference``: what stands in for
    a staff that did not parse, so the score's rhythm stays whole."""
    out: Staff = []
    length = Fraction(0)
    for record in reference:
        if record[0].startswith(("=", "*M")):
            out += rests(length)
            out.append(record)
            length = Fraction(0)
        else:
            length += duration(record)
    return out + rests(length)


def _kind(record: list[str]) -> str:
    token = record[0]
    if token.startswith("*"):
        return "*"
    if token.startswith("="):
        return "="
    return "." if duration(record) == 0 else "note"


def align_system(staves: list[Staff]) -> list[list[str]]:
    """Humdrum records of one system: staves (top to bottom) as spines (bottom first)."""
    heads = [0] * len(staves)
    times = [Fraction(0)] * len(staves)
    out: list[list[str]] = []
    nulls = {"*": "*", "=": None, ".": ".", "note": "."}
    while any(head < len(staff) for head, staff in zip(heads, staves, strict=True)):
        now = min(t for t, h, s in zip(times, heads, staves, strict=True) if h < len(s))
        ready = [
            i
            for i, staff in enumerate(staves)
            if heads[i] < len(staff) and times[i] == now and _kind(staff[heads[i]]) != "note"
        ]
        if ready:  # zero-duration records first: interpretations, barlines, grace notes
            kind = _kind(staves[ready[0]][heads[ready[0]]])
            chosen = [i for i in ready if _kind(staves[i][heads[i]]) == kind]
            barline = staves[chosen[0]][heads[chosen[0]]][0] if kind == "=" else None
            record = [nulls[kind] or barline for _ in staves]
            for i in chosen:
                record[i] = " ".join(staves[i][heads[i]])
                heads[i] += 1
        else:
            record = ["."] * len(staves)
            for i, staff in enumerate(staves):
                if heads[i] < len(staff) and times[i] == now:
                    record[i] = " ".join(staff[heads[i]])
                    times[i] += duration(staff[heads[i]])
                    heads[i] += 1
        out.append(record[::-1])
    return out


def _drop_repeats(records: list[list[str]], state: list[dict[str, str]]) -> list[list[str]]:
    """Leave out interpretations that only repeat what is in force (``state`` per spine)."""
    kept = []
    for record in records:
        if record[0].startswith("*") or any(f.startswith("*") for f in record):
            fields = []
            for spine, field in enumerate(record):
                kind = next((k for k in ("*clef", "*k[", "*M", "*met(") if field.startswith(k)), "")
                if kind and state[spine].get(kind) == field:
                    field = "*"
                elif kind:
                    state[spine][kind] = field
                fields.append(field)
            if all(f == "*" for f in fields):
                continue
            record = fields
        kept.append(record)
    return kept


def page_kern(systems: list[list[Staff | None]]) -> str:
    """One **kern score of systems in reading order, each a list of staves top to bottom.

    A staff given as ``None`` (it did not parse) becomes rests in the measures of the
    system's first staff that did. The spine count is the largest staff count.
    """
    spines = max((len(system) for system in systems), default=0)
    if spines == 0:
        raise KernError("no staves")
    state: list[dict[str, str]] = [{} for _ in range(spines)]
    body: list[list[str]] = []
    for system in systems:
        reference = next((staff for staff in system if staff), [])
        staves = [staff or resting(reference) for staff in system]
        staves += [resting(reference)] * (spines - len(system))
        body += _drop_repeats(align_system(staves), state)
    lines = ["\t".join(["**kern"] * spines)]
    lines += ["\t".join(record) for record in body]
    lines.append("\t".join(["*-"] * spines))
    return "\n".join(lines) + "\n"
