"""A procedural generator of plausible **kern: monophonic lines and piano music.

Melodies move by steps and small leaps inside the clef's range; rhythms fill
each measure exactly, with dotted values, rests, ties (mostly over the barline),
accidentals outside the key, beams per beat. Piano music has chords in both hands,
measures of block chords and of broken chords (Alberti and rising figures), clef
changes, and measures in two voices (a second, lower voice of held notes and
rests under the first, the spine split with ``*^`` and joined with ``*v``).
Everything is drawn from one ``random.Random(seed)``: the same seed gives the
same music.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from quire.config import CLEFS, FIFTHS
from quire.music.accidentals import ALTERATION
from quire.music.kern import key_signature
from quire.music.score import dotted_value, duration

_STEPS = "cdefgab"
# Lowest and highest diatonic index (octave * 7 + step) written for each clef.
_RANGES = {
    "G2": (4 * 7 + 0, 5 * 7 + 4),
    "F4": (2 * 7 + 2, 3 * 7 + 6),
    "C1": (4 * 7 + 0, 5 * 7 + 2),
    "C3": (3 * 7 + 2, 4 * 7 + 6),
    "C4": (3 * 7 + 0, 4 * 7 + 4),
}
_FLAGGED = ("8", "12", "16", "24", "32")
# Triplets: three notes in the time of two, of eighths, sixteenths and quarters.
_TUPLETS = [
    (("12",) * 3, Fraction(1, 4)),
    (("24",) * 3, Fraction(1, 8)),
    (("6",) * 3, Fraction(1, 2)),
]
_METERS = ["2/4", "3/4", "4/4", "6/8", "3/8", "2/2", "9/8", "12/8", "3/2", "4/2", "6/4"]
# Rhythmic figures (kern durations), their length in whole notes and their weight:
# 32nds come in pairs or after a dotted 16th, as they do in printed melodies.
_FIGURES = [
    (figure, sum(duration([value]) for value in figure), weight)
    for figure, weight in [
        (("1",), 1.0),
        (("2.",), 1.0),
        (("2",), 1.0),
        (("4.",), 1.0),
        (("4",), 1.0),
        (("8.",), 1.0),
        (("8",), 1.0),
        (("16.", "32"), 0.15),
        (("16",), 1.0),
        (("32", "32"), 0.08),
    ]
]


_Measure = list[tuple[Fraction, int, str]]  # events: onset, rank (grace notes 0), token


@dataclass(frozen=True)
class MusicStyle:
    """What the generator may use, and how often."""

    kind: str = "monophonic"  # or "piano"
    measures: tuple[int, int] = (8, 24)
    rest_chance: float = 0.1
    accidental_chance: float = 0.08
    tie_chance: float = 0.05
    chord_chance: float = 0.3
    clefs: tuple[str, ...] = CLEFS  # of monophonic music
    fifths: tuple[int, int] = FIFTHS  # key signatures: flats (negative) to sharps
    meter_symbol_chance: float = 0.5  # 4/4 drawn C, 2/2 drawn C|
    tuplet_chance: float = 0.06  # a beat of triplets
    grace_chance: float = 0.04
    slur_chance: float = 0.08
    phrase_chance: float = 0.1  # a piece with phrase brackets
    articulation_chance: float = 0.06
    trill_chance: float = 0.02
    fermata_chance: float = 0.03
    ledger_chance: float = 0.04  # a note that leaps beyond the clef's usual range
    change_chance: float = 0.25  # a piece that changes clef, key or meter mid-way
    repeat_chance: float = 0.25  # a piece with repeat, double barlines or endings
    multirest_chance: float = 0.1  # a piece with measures of rest
    ending_chance: float = 0.1  # a repeat with first and second endings
    chord_symbol_chance: float = 0.15  # a lead sheet's chord symbols over the staff
    dynamics_chance: float = 0.15  # dynamics under the staff
    fingering_chance: float = 0.1  # fingering digits over notes
    block_chance: float = 0.2  # piano: a measure of block chords
    broken_chance: float = 0.15  # piano: a measure of a broken-chord figure
    voice_chance: float = 0.3  # piano: a measure with a second, lower voice


@dataclass
class _Plan:
    """Per measure: meter, key and (per staff) clef in force, the interpretations that
    open it and the barline that ends it."""

    meters: list[str]
    keys: list[str]
    clefs: list[list[str]]  # per staff
    opening: list[list[list[str]]]  # per measure, per staff: interpretation tokens
    barlines: list[str]
    resting: set[int]  # measures of whole-measure rest


def _plan(rng: random.Random, style: MusicStyle, clefs: list[str], measures: int) -> _Plan:
    meter = rng.choice(_METERS)
    fifths = rng.randint(*style.fifths)
    meters, keys = [meter] * measures, [key_signature(fifths)] * measures
    staff_clefs = [[c] * measures for c in clefs]
    opening: list[list[list[str]]] = [[[] for _ in clefs] for _ in range(measures)]
    barlines = ["="] * measures
    for i, clef in enumerate(clefs):
        opening[0][i] = [f"*clef{clef}", keys[0], f"*M{meter}"]
        if _symbol(meter) and rng.random() < style.meter_symbol_chance:
            opening[0][i].append(_symbol(meter))
    if measures > 4 and rng.random() < style.change_chance:
        at = rng.randint(2, measures - 2)
        kind = rng.choice(["clef", "key", "meter", "key", "meter"])
        if kind == "clef" and len(clefs) == 1:
            new = rng.choice([c for c in _RANGES if c != clefs[0]])
            staff_clefs[0][at:] = [new] * (measures - at)
            opening[at][0].append(f"*clef{new}")
        elif kind == "clef":  # a hand changes clef for some measures, and back
            staff = rng.randrange(len(clefs))
            new, back = ("G2" if clefs[staff] == "F4" else "F4"), rng.randint(at + 1, measures)
            staff_clefs[staff][at:back] = [new] * (back - at)
            opening[at][staff].append(f"*clef{new}")
            if back < measures:
                opening[back][staff].append(f"*clef{clefs[staff]}")
        elif kind in ("key", "clef"):
            new_key = key_signature(rng.randint(*style.fifths))
            keys[at:] = [new_key] * (measures - at)
            for tokens in opening[at]:
                tokens.append(new_key)
            barlines[at - 1] = "=||"
        else:
            new_meter = rng.choice([m for m in _METERS if m != meter])
            meters[at:] = [new_meter] * (measures - at)
            for tokens in opening[at]:
                tokens.append(f"*M{new_meter}")
            barlines[at - 1] = rng.choice(["=", "=||"])
    if measures > 4 and rng.random() < style.repeat_chance:
        end = rng.randint(2, measures - 2)
        barlines[end - 1] = rng.choice(["=:|!", "=:|!", "=||"])
        if barlines[end - 1] == "=:|!" and rng.random() < 0.5 and end > 2:
            start = rng.randint(1, end - 2)
            if barlines[start - 1] == "=":
                barlines[start - 1] = "=!|:"
        if barlines[end - 1] == "=:|!" and rng.random() < style.ending_chance / style.repeat_chance:
            for measure, label in ((0, "A"), (end - 1, "A1"), (end, "A2"), (end + 1, "B")):
                for tokens in opening[measure]:
                    tokens.append(f"*>{label}")
    resting: set[int] = set()
    if len(clefs) == 1 and measures > 6 and rng.random() < style.multirest_chance:
        first = rng.randint(1, measures - 3)
        resting = set(range(first, min(measures - 1, first + rng.choice([1, 2, 2, 3, 4, 6]))))
    return _Plan(meters, keys, staff_clefs, opening, barlines, resting)


def _symbol(meter: str) -> str:
    return {"4/4": "*met(c)", "2/2": "*met(c|)"}.get(meter, "")


def generate_kern(seed: int, style: MusicStyle = MusicStyle()) -> str:
    """Return a Humdrum file: one **kern spine, or two (left hand first) for piano."""
    rng = random.Random(seed)
    measures = rng.randint(*style.measures)
    clefs = ["F4", "G2"] if style.kind == "piano" else rng.choices(style.clefs)
    plan = _plan(rng, style, clefs, measures)
    phrases = rng.random() < style.phrase_chance
    spines = [_spine(rng, plan, i, style, phrases) for i in range(len(clefs))]
    rows = [["**kern"] * len(clefs), *_align(spines, plan), ["*-"] * len(clefs)]
    if len(clefs) == 1:
        rows = _beside(rng, rows, style)
    return "\n".join("\t".join(row) for row in rows) + "\n"


_DYNAMICS = ["p", "pp", "mp", "mf", "f", "ff", "sfz", "fp"]
_ROOTS = ["C", "C#", "D-", "D", "E-", "E", "F", "F#", "G-", "G", "A-", "A", "B-", "B"]
_KINDS = (
    ["major"] * 4
    + ["minor"] * 3
    + ["dominant"] * 3
    + ["major-seventh", "minor-seventh", "minor-seventh", "half-diminished", "diminished"]
    + ["diminished-seventh", "augmented", "suspended-fourth", "major-sixth", "minor-sixth"]
    + ["dominant-ninth"]
)


def _beside(rng: random.Random, rows: list[list[str]], style: MusicStyle) -> list[list[str]]:
    """A melody's rows with spines of what is printed beside its notes: dynamics,
    fingering, chord symbols (each for some pieces only)."""
    kinds = [
        kind
        for kind, chance in (
            ("**dynam", style.dynamics_chance),
            ("**fing", style.fingering_chance),
            ("**mxhm", style.chord_symbol_chance),
        )
        if rng.random() < chance
    ]
    if not kinds:
        return rows
    out = []
    opens_measure = False
    for number, row in enumerate(rows):
        token = row[0]
        if number == 0:
            extra = kinds
        elif token == "*-":
            extra = ["*-"] * len(kinds)
        elif token.startswith("*"):
            extra = ["*above" if k == "**mxhm" and number == 1 else "*" for k in kinds]
        elif token.startswith("="):
            extra = [token] * len(kinds)
            opens_measure = True
        else:
            extra = [_printed_beside(rng, kind, token, opens_measure) for kind in kinds]
            opens_measure = opens_measure and "q" in token
        out.append([*row, *extra])
    return out


def _printed_beside(rng: random.Random, kind: str, token: str, opens_measure: bool) -> str:
    """One token of a ``kind`` spine beside the kern ``token`` (chord symbols mostly
    where a measure begins, as lead sheets print them)."""
    sounding = "r" not in token and "q" not in token
    if kind == "**dynam" and rng.random() < 0.12:
        return rng.choice(_DYNAMICS)
    if kind == "**fing" and sounding and rng.random() < 0.3:
        return str(rng.randint(1, 5))
    if kind == "**mxhm" and "q" not in token and rng.random() < (0.7 if opens_measure else 0.08):
        chord = f"{rng.choice(_ROOTS)} {rng.choice(_KINDS)}"
        return chord + (f"/{rng.choice(_ROOTS)}" if rng.random() < 0.15 else "")
    return "."


def _figures(
    length: Fraction, onset: Fraction, beat: Fraction, style: MusicStyle, tuplets: bool
) -> list[tuple[tuple[str, ...], Fraction, float]]:
    """The figures that fit at ``onset`` of a measure of ``length``."""
    choices = [
        (f, v, w)
        for f, v, w in _FIGURES
        if v <= length - onset and (v >= beat or (onset % beat) + v <= beat)
    ]
    if tuplets:
        choices += [
            (f, v, style.tuplet_chance * 10)
            for f, v in _TUPLETS
            if v <= length - onset and onset % v == 0 and v <= beat * 2
        ]
    return choices


def _spine(
    rng: random.Random, plan: _Plan, staff: int, style: MusicStyle, phrases: bool
) -> list[list[_Measure]]:
    """Measures of one staff, each a list of voices of (onset, rank, token); grace notes
    rank before their note."""
    piano = style.kind == "piano"
    chords = piano and rng.random() < style.chord_chance * 2
    out: list[list[_Measure]] = []
    tie_from, tie_pitch = None, ""  # a tie carries the pitch, accidental included
    position = None
    measures = len(plan.meters)
    for number in range(measures):
        clef, key, meter = plan.clefs[staff][number], plan.keys[number], plan.meters[number]
        low, high = _RANGES[clef]
        if position is None or not low <= position <= high:
            position = rng.randint(low + 2, high - 2)
        numerator, denominator = (int(x) for x in meter.split("/"))
        length = Fraction(numerator, denominator)
        beat = (
            Fraction(3, 8) if denominator == 8 and numerator % 3 == 0 else Fraction(1, denominator)
        )
        if number in plan.resting and tie_from is None and (rest := dotted_value(length)):
            out.append([[(Fraction(0), 1, f"{rest}r")]])
            continue
        events: _Measure = []
        onset = Fraction(0)
        tuplets = denominator in (2, 4)
        floor = high  # the measure's lowest step, over which a second voice may go
        texture = _texture(rng, style) if piano and tie_from is None else None
        if texture is not None:
            events, floor = texture(rng, _Bar(length, beat, low, high, key), style)
            onset = length
        while onset < length:
            choices = _figures(length, onset, beat, style, tuplets)
            figure, _, _ = rng.choices(choices, [w for _, _, w in choices])[0]
            for value in figure:
                length_of_value = duration([value])
                if tie_from is None and rng.random() < style.rest_chance:
                    token = f"{value}r"
                else:
                    if tie_from is not None:
                        step = tie_from
                    else:
                        leap = rng.choice([-2, -1, -1, 0, 1, 1, 2, rng.randint(-5, 5)])
                        if rng.random() < style.ledger_chance:
                            step = rng.choice([low - rng.randint(2, 7), high + rng.randint(2, 7)])
                        else:
                            position = min(high, max(low, position + leap))
                            step = position
                        floor = min(floor, step)
                    pitch = tie_pitch if tie_from is not None else _pitch(rng, step, key, style)
                    token = value + pitch
                    if (
                        chords
                        and tie_from is None
                        and rng.random() < style.chord_chance
                        and step + 4 <= high
                    ):
                        third = step + rng.choice([2, 4])
                        token += " " + value + _pitch(rng, third, key, style)
                    if tie_from is not None:
                        token = _tie(token, "]")
                        tie_from = None
                    elif " " not in token and rng.random() < _tie_chance(
                        style, onset + length_of_value == length, number == measures - 1
                    ):
                        token = _tie(token, "[")
                        tie_from, tie_pitch = step, pitch
                    elif (
                        " " not in token
                        and duration([value]).denominator % 3
                        and rng.random() < style.grace_chance
                    ):
                        grace = rng.choice(["8q", "8q", "16q", "8qq", "4qq"])
                        neighbour = _pitch(rng, step + rng.choice([-1, 1]), key, style)
                        events.append((onset, 0, grace + neighbour))
                events.append((onset, 1, token))
                onset += length_of_value
        voices = [_marks(rng, _beam(events, beat), style, key)]
        if piano and floor - 2 >= low - 3 and rng.random() < style.voice_chance:
            voices.append(_beam(_lower_voice(rng, length, floor, low, key, style), beat))
        out.append(voices)
    firsts = [voices[0] for voices in out]
    if phrases:
        _phrase(rng, firsts)
    _slurs(rng, firsts, style)
    return out


@dataclass(frozen=True)
class _Bar:
    """What a piano texture fills: a measure's length and beat, the clef's range
    (diatonic steps) and the key."""

    length: Fraction
    beat: Fraction
    low: int
    high: int
    key: str


_Texture = Callable[[random.Random, _Bar, MusicStyle], tuple[_Measure, int]]


def _texture(rng: random.Random, style: MusicStyle) -> _Texture | None:
    """A piano measure's texture: block chords, a broken-chord figure, or (``None``) a
    line of notes and dyads."""
    draw = rng.random()
    if draw < style.block_chance:
        return _block
    if draw < style.block_chance + style.broken_chance:
        return _broken
    return None


_CHORD_SHAPES = [(0, 2, 4), (0, 2, 4, 7), (0, 4, 7), (0, 7), (0, 2, 5), (0, 3, 5), (0, 2)]
_BROKEN_FIGURES = [(0, 4, 2, 4), (0, 2, 4, 7), (0, 4, 7, 4), (0, 2, 4, 2)]


def _block(rng: random.Random, bar: _Bar, style: MusicStyle) -> tuple[_Measure, int]:
    """A measure of block chords of two to four notes (and rests); its lowest step."""
    events: _Measure = []
    onset, floor = Fraction(0), bar.high
    while onset < bar.length:
        fitting = _figures(bar.length, onset, bar.beat, style, False)
        choices = [c for c in fitting if len(c[0]) == 1 and c[1] % Fraction(1, 8) == 0]
        (value,), _, _ = rng.choices(choices or fitting, [w for _, _, w in choices or fitting])[0]
        if rng.random() < style.rest_chance:
            token = f"{value}r"
        else:
            root = rng.randint(bar.low, max(bar.low, bar.high - 7))
            steps = [root + d for d in rng.choice(_CHORD_SHAPES) if root + d <= bar.high + 2]
            token = " ".join(value + _pitch(rng, step, bar.key, style) for step in steps)
            floor = min(floor, root)
        events.append((onset, 1, token))
        onset += duration([value])
    return events, floor


def _broken(rng: random.Random, bar: _Bar, style: MusicStyle) -> tuple[_Measure, int]:
    """A measure of a broken-chord figure in eighths or sixteenths, its chord changing
    every two beats; its lowest step."""
    value = rng.choice(["8", "16"])
    figure = rng.choice(_BROKEN_FIGURES)
    step_length = duration([value])
    events: _Measure = []
    floor, root = bar.high, bar.low
    for k in range(int(bar.length / step_length)):
        onset = k * step_length
        if onset % (2 * bar.beat) == 0:
            root = rng.randint(bar.low, max(bar.low, bar.high - 7))
            floor = min(floor, root)
        pitch = _pitch(rng, root + figure[k % len(figure)], bar.key, style)
        events.append((onset, 1, value + pitch))
    return events, floor


def _lower_voice(
    rng: random.Random, length: Fraction, floor: int, low: int, key: str, style: MusicStyle
) -> _Measure:
    """A second voice under notes no lower than ``floor``: held notes, and rests in
    this voice only."""
    events: _Measure = []
    onset = Fraction(0)
    while onset < length:
        fitting = [v for v in ("1", "2.", "2", "4.", "4", "8") if duration([v]) <= length - onset]
        value = rng.choice(fitting[:3])
        if rng.random() < 0.25:
            token = f"{value}r"
        else:
            token = value + _pitch(rng, rng.randint(max(low - 3, floor - 6), floor - 2), key, style)
        events.append((onset, 1, token))
        onset += duration([value])
    return events


def _marks(rng: random.Random, events: _Measure, style: MusicStyle, key: str) -> _Measure:
    """Articulations, trills and fermatas on single notes."""
    marked = []
    for onset, rank, token in events:
        if rank == 1 and " " not in token and "r" not in token:
            if rng.random() < style.articulation_chance:
                token = _append(token, rng.choice(["'", "'", "^", "~", "^^", "`"]))
            elif duration([token]) >= Fraction(1, 4) and rng.random() < style.trill_chance:
                token = _append(token, _trill(token, key))
        if rank == 1 and " " not in token and rng.random() < style.fermata_chance:
            token = _append(token, ";")
        marked.append((onset, rank, token))
    return marked


def _trill(token: str, key: str) -> str:
    """``t`` (half step) or ``T`` (whole step): the trill to the note above in the key,
    which Verovio draws without an accidental."""
    found = re.search(r"([a-gA-G])\1*(#+|-+|n)?", token)
    letter = found[1].lower()
    upper = _STEPS[(_STEPS.index(letter) + 1) % 7]
    semitones = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
    own = semitones[letter] + ALTERATION.get(found[2] or "", 0)
    above = semitones[upper] + (1 if f"{upper}#" in key else -1 if f"{upper}-" in key else 0)
    return "t" if (above - own) % 12 == 1 else "T"


def _append(token: str, mark: str) -> str:
    """``token`` with ``mark`` after its pitch and accidental (before beam and tie ends)."""
    at = len(token.rstrip("LJ]_"))
    return token[:at] + mark + token[at:]


def _notes(out: list[_Measure]) -> list[tuple[int, int]]:
    """(measure, index) of every single main note, in order."""
    return [
        (m, i)
        for m, events in enumerate(out)
        for i, (_, rank, token) in enumerate(events)
        if rank == 1 and "r" not in token and " " not in token
    ]


def _slurs(rng: random.Random, out: list[_Measure], style: MusicStyle):
    """Slurs over two to five consecutive notes, not overlapping."""
    notes = _notes(out)
    k = 0
    while k < len(notes) - 1:
        if rng.random() < style.slur_chance:
            span = min(len(notes) - 1 - k, rng.randint(1, 4))
            _wrap(out, notes[k], notes[k + span], "(", ")")
            k += span + 1
        else:
            k += 1


def _phrase(rng: random.Random, out: list[_Measure]) -> None:
    """Phrase marks over runs of four to twelve notes."""
    notes = _notes(out)
    k = 0
    while k < len(notes) - 4:
        span = min(len(notes) - 1 - k, rng.randint(4, 12))
        _wrap(out, notes[k], notes[k + span], "{", "}")
        k += span + 1 + rng.randint(0, 6)


def _wrap(
    out: list[_Measure], first: tuple[int, int], last: tuple[int, int], opening: str, closing: str
):
    m, i = first
    onset, rank, token = out[m][i]
    out[m][i] = (onset, rank, opening + token)
    m, i = last
    onset, rank, token = out[m][i]
    out[m][i] = (onset, rank, token + closing)


def _tie_chance(style: MusicStyle, ends_measure: bool, last_measure: bool) -> float:
    """Chance that a note opens a tie: mostly over the barline, a third as often
    inside a measure, never on the piece's last note."""
    if ends_measure:
        return 0.0 if last_measure else style.tie_chance
    return style.tie_chance / 3


def _pitch(rng: random.Random, index: int, key: str, style: MusicStyle) -> str:
    octave, step = divmod(index, 7)
    letter = _STEPS[step]
    name = letter * (octave - 3) if octave >= 4 else letter.upper() * (4 - octave)
    in_key = "#" if f"{letter}#" in key else "-" if f"{letter}-" in key else ""
    if rng.random() < style.accidental_chance:
        usual = {"#": letter not in "eb", "-": letter not in "fc", "n": True}  # no E#, F♭ …
        return name + rng.choice([a for a in usual if usual[a] and a != (in_key or "n")])
    return name + in_key


def _tie(token: str, mark: str) -> str:
    return mark + token if mark == "[" else token + mark


def _beam(events: _Measure, beat: Fraction) -> _Measure:
    """Beam runs of two or more flagged notes inside one beat (kern L … J), and runs of
    grace notes."""
    groups: dict[tuple[Fraction, int], list[int]] = {}
    for i, (onset, rank, token) in enumerate(events):
        value = token.split(" ")[0].lstrip("[")
        flagged = value.startswith(_FLAGGED) or (rank == 0 and value.startswith(("8", "16")))
        if flagged and "r" not in token:
            # a triplet's notes are beamed among themselves: beams that cross a
            # tuplet's edge break Verovio's Humdrum import
            triplet = duration([value]).denominator % 3 == 0
            span = 3 * duration([value]) if triplet else beat
            groups.setdefault((onset // span, rank, triplet), []).append(i)
    beamed = list(events)
    for members in groups.values():
        runs: list[list[int]] = []
        for i in members:
            if runs and i == runs[-1][-1] + 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in (r for r in runs if len(r) > 1):
            for i, mark in ((run[0], "L"), (run[-1], "J")):
                onset, rank, token = beamed[i]
                notes = token.split(" ")
                notes[0] = (
                    notes[0] + mark if not notes[0].endswith("]") else notes[0][:-1] + mark + "]"
                )
                beamed[i] = (onset, rank, " ".join(notes))
    return beamed


def _align(spines: list[list[list[_Measure]]], plan: _Plan) -> list[list[str]]:
    """Merge the staves' events into Humdrum records, with the planned interpretations
    and barlines (numbered); a staff's spine splits for a measure in two voices."""
    rows: list[list[str]] = []
    for number, measures in enumerate(zip(*spines, strict=True)):
        if number > 0:
            barline = plan.barlines[number - 1]
            rows.append([barline[:1] + str(number + 1) + barline[1:]] * len(spines))
        opening = plan.opening[number]
        for depth in range(max(len(tokens) for tokens in opening)):
            rows.append([tokens[depth] if depth < len(tokens) else "*" for tokens in opening])
        split = [len(voices) > 1 for voices in measures]
        if any(split):
            rows.append(["*^" if two else "*" for two in split])
        voices = [events for staff in measures for events in staff]
        keys = sorted({(onset, rank) for events in voices for onset, rank, _ in events})
        for key in keys:
            rows.append(
                [next((t for o, r, t in events if (o, r) == key), ".") for events in voices]
            )
        for joined in (k for k, two in enumerate(split) if two):  # adjacent *v join as one
            rows.append([f for k, two in enumerate(split) for f in _join(two, k - joined)])
    rows.append(["=="] * len(spines))
    return rows


def _join(split: bool, order: int) -> list[str]:
    """A staff's fields in the record that joins the voices of the staff ``order``
    places to its left (0: this staff's own)."""
    if not split or order < 0:
        return ["*"]
    return ["*v", "*v"] if order == 0 else ["*", "*"]
