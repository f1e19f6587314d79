"""From staff transcriptions to one **kern score: checking staves, aligning them in time.

A page's staves are recognized one by one; a score needs them as spines. Within
a system the staves are aligned by onset (each staff's records carry their own
durations, voice by voice where its spine splits), so a piano system whose hands
move in different rhythms becomes one Humdrum record list with null tokens where a
staff holds; systems follow each other in time. Clef, key and meter that a system
repeats from the one before (as engraving does) are left out; changes stay.
"""

from __future__ import annotations

import re
from fractions import Fraction

from quire.music.encodings import to_kern
from quire.music.kern import JOIN, KernError, parse_kern, text_records, width_after

# A kern note or rest: signifiers around a duration (or a grace mark) and a pitch.
_NOTE_CHARS = re.compile(
    r"^[0-9.%a-gA-Gr#\-n\[\]_(){}&;~^'\"`qQJLkKPpTtMmWwSsRO$:xXyYzZvu<>/\\|@!?]+$"
)
_DURATION = re.compile(r"(\d+)(?:%(\d+))?(\.*)")
_PITCH = re.compile(r"[a-gA-G]|r")
_GRACE_LAST = re.compile(r"^([^a-gA-G]*?\d[\d%.]*)([a-gA-G]+(?:#+|-+|n)?)(qq?)")

# A staff's records, each a list of fields (one per voice; a field is a kern token,
# a chord's notes joined by spaces).
Staff = list[list[str]]


def check_token(token: str) -> None:
    """Raise :class:`KernError` unless ``token`` is a kern interpretation, barline or note."""
    if token.startswith(("*", "=", "!")) or token == ".":
        return
    if not _NOTE_CHARS.match(token) or not _PITCH.search(token):
        raise KernError(f"{token!r} is not a kern note, rest, barline or interpretation")
    if not _DURATION.search(token) and not any(mark in token for mark in "qQ"):
        raise KernError(f"{token!r} has no duration")


def staff_records(text: str, encoding: str, repairs: list[str] | None = None) -> Staff:
    """The kern records of one staff transcription in ``encoding``, every token checked,
    every record as wide as the voices running, a spine still split at the end joined;
    grace notes written with their ``q`` before the pitch (``16qBB``), as music21 reads
    them.

    A record of the wrong width is refused, unless ``repairs`` is given (a reading,
    not ground truth): then it is padded with null tokens or cut to the voices
    running, a join with no neighbour holds instead, and each repair is named there.
    """
    records = text_records(to_kern(text, encoding))
    if not records:
        raise KernError("empty transcription")
    width = 1
    for number, record in enumerate(records, start=1):
        for field in record:
            for token in field.split(" "):
                check_token(token)
        if repairs is not None and (fixed := _fit_fields(record, width)) != record:
            repairs.append(f"record {number}: {len(record)} fields where {width} voices run")
            records[number - 1] = record = fixed
        if len(record) != width:
            raise KernError(f"record {number} has {len(record)} fields where {width} voices run")
        width = width_after(record, number)
    if width > 1:
        records.append([JOIN] * width)
    return [
        [" ".join(_GRACE_LAST.sub(r"\1\3\2", note) for note in field.split(" ")) for field in r]
        for r in records
    ]


def _fit_fields(record: list[str], width: int) -> list[str]:
    """``record`` with ``width`` fields (null tokens of its kind added, or the last
    fields left out) and no join without a neighbour."""
    first = record[0]
    if first.startswith("="):
        null = first  # a barline in every voice
    elif first.startswith("*"):
        null = JOIN if first == JOIN else "*"
    else:
        null = "."
    fields = record[:width] + [null] * (width - len(record))
    return [
        "*"
        if field == JOIN and JOIN not in fields[max(k - 1, 0) : k] + fields[k + 1 : k + 2]
        else field
        for k, field in enumerate(fields)
    ]


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


def onsets(staff: Staff) -> list[Fraction]:
    """When each record of ``staff`` starts, in whole notes from the staff's start, and
    (last) when the staff ends: a record lasts until the first of its voices' notes
    that sound at it ends (a grace note's record, no time)."""
    times, ends, now = [], [Fraction(0)], Fraction(0)
    for record in staff:
        times.append(now)
        first = record[0]
        if first.startswith("*"):
            ends = _spread(record, ends, now)
            continue
        if first.startswith(("=", "!")):
            continue
        lengths = []  # the record lasts as long as the shortest of what sounds at it
        for voice, field in enumerate(record[: len(ends)]):
            if field != ".":
                lengths.append(duration([field]))  # 0 for a grace note
                ends[voice] = now + lengths[-1]
            elif ends[voice] > now:
                lengths.append(ends[voice] - now)
        now += min(lengths, default=Fraction(0))
    return [*times, max([now, *ends])]


def _spread(record: list[str], ends: list[Fraction], now: Fraction) -> list[Fraction]:
    """The voices' end times after an interpretation record that may split or join them."""
    out: list[Fraction] = []
    k = 0
    while k < len(record):
        end = ends[k] if k < len(ends) else now
        if record[k] == JOIN:
            run = k
            while run < len(record) and record[run] == JOIN:
                run += 1
            out.append(max(ends[k:run] or [now]))
            k = run
        else:
            out += [end, end] if record[k] == "*^" else [end]
            k += 1
    return out


def resting(reference: Staff) -> Staff:
    """A staff of rests in the measures (and meters) of ``reference``: what stands in for
    a staff that did not parse, so the score's rhythm stays whole."""
    out: Staff = []
    start = Fraction(0)
    times = onsets(reference)
    for k, record in enumerate(reference):
        if record[0].startswith(("=", "*M")):
            out += rests(times[k] - start)
            out.append([record[0]])
            start = times[k]
    return out + rests(times[-1] - start)


def _kind(record: list[str], length: Fraction) -> str:
    token = record[0]
    if token.startswith("*"):
        return "*"
    if token.startswith("="):
        return "="
    return "." if length == 0 else "note"


def align_system(staves: list[Staff]) -> list[list[str]]:
    """Humdrum records of one system: staves (top to bottom) as spines (bottom first),
    each as many fields as it has voices."""
    times = [onsets(staff) for staff in staves]
    kinds = [
        [_kind(r, times[i][k + 1] - times[i][k]) for k, r in enumerate(staff)]
        for i, staff in enumerate(staves)
    ]
    heads = [0] * len(staves)
    widths = [1] * len(staves)
    out: list[list[str]] = []
    nulls = {"*": "*", "=": None, ".": ".", "note": "."}
    while any(head < len(staff) for head, staff in zip(heads, staves, strict=True)):
        live = [i for i, staff in enumerate(staves) if heads[i] < len(staff)]
        now = min(times[i][heads[i]] for i in live)
        at = [i for i in live if times[i][heads[i]] == now]
        ready = [i for i in at if kinds[i][heads[i]] != "note"]
        if ready:  # zero-duration records first: interpretations, barlines, grace notes
            kind = kinds[ready[0]][heads[ready[0]]]
            chosen = [i for i in ready if kinds[i][heads[i]] == kind]
            joins = [i for i in chosen if JOIN in staves[i][heads[i]]]
            chosen = [i for i in chosen if i not in joins[1:]]  # adjacent *v join as one
        else:
            kind, chosen = "note", at
        barline = staves[chosen[0]][heads[chosen[0]]][0] if kind == "=" else None
        fields = [[nulls[kind] or barline] * widths[i] for i in range(len(staves))]
        for i in chosen:
            record = staves[i][heads[i]]
            fields[i] = list(record)
            widths[i] = width_after(record, heads[i] + 1) if kind == "*" else len(record)
            heads[i] += 1
        out.append([field for staff in fields[::-1] for field in staff])
    return out


_SIGNS = ("*clef", "*k[", "*M", "*met(")


def _drop_repeats(staff: Staff, state: dict[str, str]) -> Staff:
    """Leave out the clef, key and meter that only repeat what is in force (``state``)."""
    kept = []
    for record in staff:
        if record[0].startswith("*"):
            kinds = [next((k for k in _SIGNS if field.startswith(k)), "") for field in record]
            fields = [
                "*" if kind and state.get(kind) == field else field
                for kind, field in zip(kinds, record, strict=True)
            ]
            state.update({kind: field for kind, field in zip(kinds, record, strict=True) if kind})
            if all(field == "*" for field in fields):
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
        staves = [_drop_repeats(staff, state[i]) for i, staff in enumerate(staves)]
        body += align_system(staves)
    lines = ["\t".join(["**kern"] * spines)]
    lines += ["\t".join(record) for record in body]
    lines.append("\t".join(["*-"] * spines))
    text = "\n".join(lines) + "\n"
    parse_kern(text)  # every record as wide as the spines running, before Verovio reads it
    return text
