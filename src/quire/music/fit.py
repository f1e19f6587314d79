"""Staves that agree: every staff of a system with the same measures, of the same length.

Staves are read one by one, so the readings of a system can disagree: a barline
missed or read twice, a duration misread. A score cannot be built from staves that
disagree (Verovio pads what does not line up, and the MIDI plays longer than the
music). :func:`fit_system` repairs a system from its most confident staff, the
reference, and says what it changed on each staff:

- a staff with more measures than the reference loses its last ones (their notes;
  clef, key, meter and voice changes in them stay), a staff with fewer gets measures
  of rest at its end;
- where the staves' measure ``k`` differs in length, every staff's measure ``k`` is
  made as long as its meter says, or as the reference's where no staff's measure
  has the meter's length (a pickup, a measure around a repeat): rests fill a short
  measure in every voice, the last notes of a long one are left out.

Measures are matched by their order in the system. Staves that agree stay as read,
whatever their lengths (pickups and final measures are not the meter's length).
"""

from __future__ import annotations

from fractions import Fraction

from quire.music.kern import width_after
from quire.music.score import Staff, onsets, resting, rests

_Measure = tuple[int, int]  # records [start, end) of a measure, its barline last if any


def _measures(staff: Staff) -> list[_Measure]:
    """The measures of a staff: spans of records that end at a barline, the last one
    possibly without; records with no note before the first note go with the first."""
    spans: list[_Measure] = []
    start = 0
    for k, record in enumerate(staff):
        if record[0].startswith("=") and _has_notes(staff[start:k]):
            spans.append((start, k + 1))
            start = k + 1
    if _has_notes(staff[start:]):
        spans.append((start, len(staff)))
    elif spans:
        spans[-1] = (spans[-1][0], len(staff))
    return spans


def _has_notes(records: Staff) -> bool:
    return any(not record[0].startswith(("*", "=", "!")) for record in records)


def _lengths(staff: Staff, spans: list[_Measure]) -> list[Fraction]:
    """How long each measure lasts (to its barline, or to the staff's last note)."""
    times = onsets(staff)
    out = []
    for start, end in spans:
        stop = end - 1 if staff[end - 1][0].startswith("=") else end
        out.append(times[stop] - times[start])
    return out


def _meters(staff: Staff, spans: list[_Measure]) -> list[Fraction | None]:
    """The meter in force in each measure (``None`` before any)."""
    meter: Fraction | None = None
    out = []
    for start, end in spans:
        for record in staff[start:end]:
            token = record[0]
            if token.startswith("*M") and "/" in token:
                count, unit = token[2:].split("/", 1)
                if count.isdigit() and unit.isdigit() and int(unit):
                    meter = Fraction(int(count), int(unit))
            elif token in ("*met(c)", "*met(c|)"):
                meter = Fraction(1)
        out.append(meter)
    return out


def fit_system(
    staves: list[Staff | None], confidences: list[float | None]
) -> tuple[list[Staff], list[list[str]]]:
    """The system's staves repaired to agree, and what was changed on each (one line
    per change; nothing for a staff that agreed). A staff given as ``None`` becomes
    rests in the reference's measures."""
    readable = [i for i, staff in enumerate(staves) if staff]
    if not readable:
        return [[] for _ in staves], [[] for _ in staves]
    best = max(readable, key=lambda i: (confidences[i] or 0.0, -i))
    reference = staves[best]
    changes: list[list[str]] = [[] for _ in staves]
    fitted: list[Staff] = []
    for i, staff in enumerate(staves):
        if staff:
            fitted.append(_fit_count(staff, reference, changes[i]))
        else:
            fitted.append(resting(reference))
            changes[i].append("unreadable: rests in the measures of the system")
    spans = [_measures(staff) for staff in fitted]
    lengths = [_lengths(staff, s) for staff, s in zip(fitted, spans, strict=True)]
    meters = _meters(fitted[best], spans[best])
    for k in reversed(range(len(spans[best]))):
        found = {length[k] for length in lengths if k < len(length)}
        if len(found) < 2:
            continue
        meter = meters[k]
        target = meter if meter in found else lengths[best][k]
        for i, staff in enumerate(fitted):
            if k < len(lengths[i]) and lengths[i][k] != target:
                fitted[i] = _fit_length(staff, spans[i][k], target, k, changes[i])
    return fitted, changes


def _fit_count(staff: Staff, reference: Staff, changes: list[str]) -> Staff:
    """``staff`` with as many measures as ``reference``."""
    spans, wanted = _measures(staff), _measures(reference)
    if len(spans) > len(wanted):
        start = spans[len(wanted)][0]
        kept = [r for r in staff[start:] if r[0].startswith("*")]  # signs and voices stay
        changes.append(
            f"{_measures_named(len(wanted), len(spans))} left out: the system has {len(wanted)}"
        )
        return staff[:start] + kept
    if len(spans) < len(wanted):
        lengths = _lengths(reference, wanted)
        added: Staff = []
        for k in range(len(spans), len(wanted)):
            barline = reference[wanted[k][1] - 1]
            added += rests(lengths[k])
            if barline[0].startswith("="):
                added.append([barline[0]])
        changes.append(f"{_measures_named(len(spans), len(wanted))} added as rests")
        return staff + added
    return staff


def _measures_named(after: int, last: int) -> str:
    """``measure 3`` or ``measures 3-5``: the measures after the first ``after`` up to
    ``last`` (counted from 1)."""
    return f"measure {last}" if last == after + 1 else f"measures {after + 1}-{last}"


def _fit_length(
    staff: Staff, span: _Measure, target: Fraction, k: int, changes: list[str]
) -> Staff:
    """``staff`` with measure ``span`` cut or filled with rests to last ``target``."""
    start, end = span
    barline = end - 1 if staff[end - 1][0].startswith("=") else end
    body = staff[start:barline]
    cut = 0
    while (length := _lengths([*staff[:start], *body], [(start, start + len(body))])[0]) > target:
        last = max(j for j, r in enumerate(body) if not r[0].startswith(("*", "=", "!")))
        body = body[:last] + body[last + 1 :]
        cut += 1
    width = 1  # the voices running where the rests go
    for number, record in enumerate([*staff[:start], *body], start=1):
        width = width_after(record, number)
    filling = [record * width for record in rests(target - length)]
    if cut:
        changes.append(f"measure {k + 1}: {cut} records left out to fit {target}")
    if filling:
        changes.append(f"measure {k + 1}: {target - length} of rest added to fit {target}")
    return [*staff[:start], *body, *filling, *staff[barline:]]
